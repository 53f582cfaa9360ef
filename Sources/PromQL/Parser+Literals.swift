/// The parser's static helpers: keywords that are also metric names, modifiers on selectors,
/// label names, durations and numbers as Prometheus reads them.
extension Parser {
    /// Keywords Prometheus's grammar also takes as metric names (`and`, `by`, `offset`…).
    static let metricKeywords: Set<String> = ["and", "or", "unless", "by", "without", "offset"]

    static func withOffset(_ expr: Expr, _ value: Int64, error: PromQLError, twice: PromQLError) throws(PromQLError) -> Expr {
        switch expr {
        case .selector(var selector):
            guard selector.offset == 0 else { throw twice }
            selector.offset = value
            return .selector(selector)
        case .matrix(var selector, let range):
            guard selector.offset == 0 else { throw twice }
            selector.offset = value
            return .matrix(selector, range: range)
        case .subquery(let inner, let range, let step, let offset, let at):
            guard offset == 0 else { throw twice }
            return .subquery(inner, range: range, step: step, offset: value, at: at)
        default:
            throw error
        }
    }

    static func withAt(_ expr: Expr, _ value: AtModifier, error: PromQLError, twice: PromQLError) throws(PromQLError) -> Expr {
        switch expr {
        case .selector(var selector):
            guard selector.at == nil else { throw twice }
            selector.at = value
            return .selector(selector)
        case .matrix(var selector, let range):
            guard selector.at == nil else { throw twice }
            selector.at = value
            return .matrix(selector, range: range)
        case .subquery(let inner, let range, let step, let offset, let at):
            guard at == nil else { throw twice }
            return .subquery(inner, range: range, step: step, offset: offset, at: value)
        default:
            throw error
        }
    }

    static func isLabelName(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "_") || (first | 0x20 >= 0x61 && first | 0x20 <= 0x7a) else { return false }
        return text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// `1y2w3d4h5m6s7ms`, each unit at most once and in that order.
    static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000),
                                         ("m", 60_000), ("s", 1000), ("ms", 1)]
        var bytes = Substring(text)
        var total: Int64 = 0
        var nextUnit = 0
        while !bytes.isEmpty {
            let digits = bytes.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            bytes = bytes.dropFirst(digits.count)
            let unit = bytes.hasPrefix("ms") ? "ms" : String(bytes.prefix(1))
            guard let index = units.firstIndex(where: { $0.0 == unit }), index >= nextUnit else { return nil }
            bytes = bytes.dropFirst(unit.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: units[index].1)
            guard !overflow else { return nil }
            total += product
            nextUnit = index + 1
        }
        return total
    }

    /// Prometheus's `parseNumber`: `strconv.ParseInt(s, 0, 64)` first (so `017` is octal 15,
    /// `0x1F` hexadecimal), else `strconv.ParseFloat` (`08`, `010.5`, `1e3`, Inf, NaN).
    static func number(_ text: String) -> Double? {
        let lower = text.lowercased()
        if lower == "inf" { return .infinity }
        if lower == "nan" { return .nan }
        if lower.hasPrefix("0x") { return UInt64(lower.dropFirst(2), radix: 16).map { Double($0) } }
        if text.count > 1, text.hasPrefix("0"), text.dropFirst().allSatisfy({ ("0"..."7").contains($0) }),
           let octal = Int64(text.dropFirst(), radix: 8) {
            return Double(octal)
        }
        return Double(text)
    }
}
