import Foundation

/// Go's number formatting, which alert text must match to the character.
public enum GoFormat {
    /// `fmt`'s `%v` for a float64, which is `strconv.FormatFloat(v, 'g', -1, 64)`: the
    /// shortest digits that round-trip, in `%e` form when the decimal exponent is below -4
    /// or at least 6 (strconv's rule for the shortest precision): `0.05`, `123456`,
    /// `1.234567e+06`, `1e-05`.
    public static func float(_ value: Double) -> String {
        let exponentThreshold = 6
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let (negative, digits, exponent) = decimalDigits(value)
        var out = negative ? "-" : ""
        if exponent < -4 || exponent >= exponentThreshold {
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += exponent < 0 ? "e-" : "e+"
            let magnitude = abs(exponent)
            out += magnitude < 10 ? "0\(magnitude)" : "\(magnitude)"
        } else if exponent < 0 {
            out += "0." + String(repeating: "0", count: -exponent - 1) + digits
        } else if digits.count <= exponent + 1 {
            out += digits + String(repeating: "0", count: exponent + 1 - digits.count)
        } else {
            let split = digits.index(digits.startIndex, offsetBy: exponent + 1)
            out += digits[..<split] + "." + digits[split...]
        }
        return out
    }

    /// The shortest round-trip decimal digits of `value` (no leading or trailing zeros) and
    /// the decimal exponent of the first digit, taken from Swift's shortest representation.
    static func decimalDigits(_ value: Double) -> (negative: Bool, digits: String, exponent: Int) {
        var text = "\(abs(value))"  // e.g. "1234.5", "1e-05", "1.5e+20"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = whole + fraction
        var pointPosition = whole.count
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (value < 0, digits, pointPosition - 1 + exponent)
    }

    /// `%.4g` as Go prints it (C's `%g` for finite values; Go's spelling of NaN and Inf).
    static func g4(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return String(format: "%.4g", value)
    }
}
