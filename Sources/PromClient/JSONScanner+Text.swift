import Foundation

extension JSONScanner {
    /// Powers of ten that a Double holds exactly.
    private static let exactPowers: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Parses a decimal float, `NaN` or `[+-]Inf` from `bytes[start..<end]`.
    ///
    /// Up to 15 significant digits and a power of ten up to 22, one multiplication or
    /// division of two exact values rounds correctly (Clinger's fast path); anything else
    /// goes to `strtod`, which rounds correctly too. Both agree with `Double(String)`.
    static func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var index = start
        guard index < end else { return nil }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < end else { return nil }
        let first = bytes[index]
        if first == UInt8(ascii: "N") || first == UInt8(ascii: "I") || first == UInt8(ascii: "i") || first == UInt8(ascii: "n") {
            return special(bytes, index, end, negative: negative)
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var sawDigit = false
        while index < end, case let digit = bytes[index] &- 0x30, digit < 10 {
            sawDigit = true
            if mantissa != 0 || digit != 0 { significant += 1 }
            if significant <= 19 { mantissa = mantissa &* 10 &+ UInt64(digit) } else { exponent += 1 }
            index += 1
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < end, case let digit = bytes[index] &- 0x30, digit < 10 {
                sawDigit = true
                if mantissa != 0 || digit != 0 { significant += 1 }
                if significant <= 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    exponent -= 1
                }
                index += 1
            }
        }
        guard sawDigit else { return nil }
        if index < end, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < end, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var written = 0
            var exponentDigits = 0
            while index < end, case let digit = bytes[index] &- 0x30, digit < 10 {
                if written < 100_000 { written = written * 10 + Int(digit) }
                index += 1
                exponentDigits += 1
            }
            guard exponentDigits > 0 else { return nil }
            exponent += exponentNegative ? -written : written
        }
        guard index == end else { return nil }
        if significant <= 15, abs(exponent) <= 22 {
            var value = Double(mantissa)
            if exponent < 0 { value /= exactPowers[-exponent] } else { value *= exactPowers[exponent] }
            return negative ? -value : value
        }
        return strtodSlow(bytes, start, end)
    }

    private static func special(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ end: Int, negative: Bool) -> Double? {
        let word = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self).lowercased()
        switch word {
        case "inf", "infinity": return negative ? -.infinity : .infinity
        case "nan": return .nan
        default: return nil
        }
    }

    private static func strtodSlow(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let length = end - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Double? in
            for offset in 0..<length { buffer[offset] = CChar(bitPattern: bytes[start + offset]) }
            buffer[length] = 0
            var parsedEnd: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &parsedEnd)
            return parsedEnd == buffer.baseAddress! + length ? value : nil
        }
    }

    /// The bytes of an escaped string, with `\n`, `\"`, `\uXXXX` (and surrogate pairs) resolved.
    func unescaped(_ span: Span) throws(ResponseDecodingError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(span.count)
        var index = span.start
        func hex4(_ at: Int) throws(ResponseDecodingError) -> UInt32 {
            guard at + 4 <= span.end else { throw failure("truncated \\u escape") }
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = bytes[at + offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < span.end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < span.end else { throw failure("truncated escape") }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= span.end,
                   bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                    let low = try hex4(index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                // A lone surrogate becomes U+FFFD, as JSONDecoder and Go do.
                let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(character).utf8))
            default:
                throw failure("invalid escape")
            }
        }
        return out
    }
}
