import Foundation
import PromQL

/// The float formatting of `GoPrintf` that C's printf does not give as Go does.
extension GoPrintf {
    /// Go's `#` flag on a float: a decimal point always, and for %g/%G/%x the trailing zeros up
    /// to the precision (6 when none is given). `number` starts with its sign.
    static func sharpened(_ number: String, verb: Unicode.Scalar, precision: Int?) -> String {
        var digits = "gGxX".unicodeScalars.contains(verb) ? (precision ?? 6) : 0
        var body = Array(number.unicodeScalars)
        var tail: [Unicode.Scalar] = []
        var hasPoint = false, sawNonzero = false
        var index = 1
        while index < body.count {
            let character = body[index]
            if character == "." {
                hasPoint = true
            } else if character == "p" || character == "P" || ((character == "e" || character == "E") && verb != "x" && verb != "X") {
                tail = Array(body[index...])
                body.removeSubrange(index...)
                break
            } else {
                if character != "0" { sawNonzero = true }
                if sawNonzero { digits -= 1 }
            }
            index += 1
        }
        if !hasPoint {
            if body.count == 2 && body[1] == "0" { digits -= 1 }
            body.append(".")
        }
        while digits > 0 { body.append("0"); digits -= 1 }
        return String(String.UnicodeScalarView(body + tail))
    }

    /// Go's `%x` of a float64: hexadecimal mantissa, binary exponent of at least two digits.
    static func hexFloat(_ value: Double, precision: Int, upper: Bool) -> String {
        let format = precision < 0 ? (upper ? "%A" : "%a") : "%.\(precision)" + (upper ? "A" : "a")
        var text = GoFormat.cFormat(format, value)
        if let p = text.lastIndex(where: { $0 == "p" || $0 == "P" }) {
            let sign = text[text.index(after: p)]
            let digits = text[text.index(p, offsetBy: 2)...]
            if digits.count < 2 { text = String(text[...p]) + String(sign) + "0" + digits }
        }
        return text
    }

    /// Go's `%b` of a float64: decimalless mantissa and binary exponent (`4503599627370496p-52`).
    static func binaryFloat(_ value: Double) -> String {
        let bits = value.bitPattern
        var exponent = Int((bits >> 52) & 0x7FF)
        var mantissa = bits & ((1 << 52) - 1)
        if exponent == 0 { exponent = 1 } else { mantissa |= 1 << 52 }
        exponent -= 1023 + 52
        return (value.sign == .minus ? "-" : "") + String(mantissa) + "p" + (exponent >= 0 ? "+" : "") + String(exponent)
    }
}
