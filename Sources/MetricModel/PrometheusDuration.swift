import Foundation

/// Prometheus's duration syntax (`model.ParseDuration`): units from largest to smallest,
/// each at most once — `1h30m`, `90s`, `500ms`, `2w`, `0`.
public enum PrometheusDuration {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("ms", 1), ("m", 60_000),
        ("s", 1000),
    ]
    /// The order units must appear in.
    private static let order = ["y", "w", "d", "h", "m", "s", "ms"]

    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var remaining = Substring(text)
        var total: Int64 = 0
        var lastRank = -1
        guard !remaining.isEmpty else { return nil }
        while !remaining.isEmpty {
            let digits = remaining.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let number = Int64(digits) else { return nil }
            remaining = remaining.dropFirst(digits.count)
            guard let unit = units.first(where: { remaining.hasPrefix($0.suffix) && !(($0.suffix == "m") && remaining.hasPrefix("ms")) }),
                  let rank = order.firstIndex(of: unit.suffix), rank > lastRank else { return nil }
            lastRank = rank
            remaining = remaining.dropFirst(unit.suffix.count)
            let (product, overflow) = number.multipliedReportingOverflow(by: unit.milliseconds)
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            // Go's model.ParseDuration: a time.Duration, int64 nanoseconds (about 292 years) at most.
            guard !overflow, !sumOverflow, sum <= Int64.max / 1_000_000 else { return nil }
            total = sum
        }
        return .milliseconds(total)
    }

    /// The shortest Prometheus spelling: `2m`, `1h30m`, `0s`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "0s" }
        var out = ""
        for suffix in order {
            let size = units.first { $0.suffix == suffix }!.milliseconds
            if milliseconds >= size {
                out += "\(milliseconds / size)\(suffix)"
                milliseconds %= size
            }
        }
        return out
    }
}
