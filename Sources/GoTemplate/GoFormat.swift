import PromQL
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
        // Swift's description is the shortest round-trip form: "1234.5", "1e-05", "1.5e+20".
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        var pointPosition = -1
        var exponent = 0
        var text = abs(value).description
        text.withUTF8 { bytes in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ".") {
                    pointPosition = digits.count
                } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                    var sign = 1
                    var magnitude = 0
                    index += 1
                    while index < bytes.count {
                        let next = bytes[index]
                        if next == UInt8(ascii: "-") { sign = -1 } else if next >= 0x30 && next <= 0x39 {
                            magnitude = magnitude * 10 + Int(next - 0x30)
                        }
                        index += 1
                    }
                    exponent = sign * magnitude
                    break
                } else {
                    digits.append(byte)
                }
                index += 1
            }
        }
        if pointPosition < 0 { pointPosition = digits.count }
        var leading = 0
        while leading < digits.count - 1 && digits[leading] == UInt8(ascii: "0") { leading += 1 }
        var end = digits.count
        while end > leading + 1 && digits[end - 1] == UInt8(ascii: "0") { end -= 1 }
        return (value < 0, String(decoding: digits[leading..<end], as: UTF8.self), pointPosition - leading - 1 + exponent)
    }

    /// `strconv.FormatFloat(v, 'e', -1, 64)`, as Prometheus writes alert values in its API:
    /// `1e+00`, `1.2e-01`.
    public static func exponential(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return value.sign == .minus ? "-0e+00" : "0e+00" }
        let (negative, digits, exponent) = decimalDigits(value)
        var out = negative ? "-" : ""
        out += String(digits.first!)
        if digits.count > 1 { out += "." + digits.dropFirst() }
        let magnitude = abs(exponent)
        return out + (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0\(magnitude)" : "\(magnitude)")
    }

    /// `%.4g` as Go prints it (C's `%g` for finite values; Go's spelling of NaN and Inf).
    static func g4(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return cFormat("%.4g", value)
    }

    /// C's printf for one double, without Foundation's `String(format:)` overhead (PromQL's wrapper of the shim).
    static func cFormat(_ format: String, _ value: Double) -> String { PromQL.cFormat(format, value) }
}

extension GoFormat {
    /// Go's `int64(v)` for a float64 on amd64 (CVTTSD2SI): truncation toward zero, and
    /// 0x8000000000000000 (`Int64.min`) for NaN and every value out of range, where Swift's
    /// `Int64(v)` would stop the process.
    public static func int64(_ value: Double) -> Int64 {
        guard value.isFinite, value > -9_223_372_036_854_775_808.0, value < 9_223_372_036_854_775_808.0 else { return .min }
        return Int64(value.rounded(.towardZero))
    }
}
