/// PromQL's lexer, as Prometheus 2.42 reads: identifiers (metric names may hold `:`), numbers
/// (decimal, hexadecimal, exponents, `Inf`, `NaN`), durations (`5m`, `1h30m`, `500ms`), the
/// three string quotings, operators, and `#` comments to the end of the line.
struct Lexer {
    let source: [UInt8]
    var index = 0

    init(_ text: String) { source = Array(text.utf8) }

    static let keywords: Set<String> = [
        "and", "or", "unless", "atan2", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    ]

    func position(_ offset: Int) -> SourcePosition {
        var line = 1, column = 1
        for byte in source[0..<min(offset, source.count)] {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return SourcePosition(line: line, column: column)
    }

    func error(_ message: String, at offset: Int) -> PromQLError { PromQLError(position: position(offset), message: message) }

    mutating func tokens() throws(PromQLError) -> [Token] {
        var out: [Token] = []
        while true {
            let token = try next()
            out.append(token)
            if token.kind == .eof { return out }
        }
    }

    private func peek(_ ahead: Int = 0) -> UInt8? { index + ahead < source.count ? source[index + ahead] : nil }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == UInt8(ascii: "_")
    }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d }

    private mutating func next() throws(PromQLError) -> Token {
        while let byte = peek() {
            if Self.isSpace(byte) { index += 1; continue }
            if byte == UInt8(ascii: "#") {
                while let byte = peek(), byte != UInt8(ascii: "\n") { index += 1 }
                continue
            }
            break
        }
        let start = index
        guard let byte = peek() else { return Token(kind: .eof, text: "", offset: start) }
        func single(_ kind: Token.Kind) -> Token {
            index += 1
            return Token(kind: kind, text: String(decoding: [byte], as: UTF8.self), offset: start)
        }
        func double(_ kind: Token.Kind) -> Token {
            index += 2
            return Token(kind: kind, text: String(decoding: source[start..<index], as: UTF8.self), offset: start)
        }
        switch byte {
        case UInt8(ascii: "("): return single(.leftParen)
        case UInt8(ascii: ")"): return single(.rightParen)
        case UInt8(ascii: "{"): return single(.leftBrace)
        case UInt8(ascii: "}"): return single(.rightBrace)
        case UInt8(ascii: "["): return single(.leftBracket)
        case UInt8(ascii: "]"): return single(.rightBracket)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ":"):
            // A metric name may start with a colon (recording rules' `:rate5m` style).
            if let next = peek(1), Self.isAlpha(next) || next == UInt8(ascii: ":") { return identifier(start) }
            return single(.colon)
        case UInt8(ascii: "@"): return single(.at)
        case UInt8(ascii: "+"): return single(.add)
        case UInt8(ascii: "-"): return single(.sub)
        case UInt8(ascii: "*"): return single(.mul)
        case UInt8(ascii: "/"): return single(.div)
        case UInt8(ascii: "%"): return single(.mod)
        case UInt8(ascii: "^"): return single(.pow)
        case UInt8(ascii: "="):
            if peek(1) == UInt8(ascii: "=") { return double(.equal) }
            if peek(1) == UInt8(ascii: "~") { return double(.regexMatch) }
            return single(.assign)
        case UInt8(ascii: "!"):
            if peek(1) == UInt8(ascii: "=") { return double(.notEqual) }
            if peek(1) == UInt8(ascii: "~") { return double(.regexNoMatch) }
            throw error("unexpected character after '!': \(peek(1).map { "'\(Character(UnicodeScalar($0)))'" } ?? "end of input")", at: start)
        case UInt8(ascii: "<"): return peek(1) == UInt8(ascii: "=") ? double(.lte) : single(.lss)
        case UInt8(ascii: ">"): return peek(1) == UInt8(ascii: "=") ? double(.gte) : single(.gtr)
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"): return try string(start, quote: byte)
        default:
            if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && peek(1).map(Self.isDigit) == true) { return try numberOrDuration(start) }
            if Self.isAlpha(byte) { return identifier(start) }
            throw error("unexpected character: '\(Character(UnicodeScalar(byte)))'", at: start)
        }
    }

    private mutating func identifier(_ start: Int) -> Token {
        var sawColon = false
        while let byte = peek(), Self.isAlpha(byte) || Self.isDigit(byte) || byte == UInt8(ascii: ":") {
            if byte == UInt8(ascii: ":") { sawColon = true }
            index += 1
        }
        let text = String(decoding: source[start..<index], as: UTF8.self)
        if sawColon { return Token(kind: .metricIdentifier, text: text, offset: start) }
        if Self.keywords.contains(text.lowercased()) { return Token(kind: .keyword, text: text.lowercased(), offset: start) }
        let lower = text.lowercased()
        if lower == "inf" || lower == "nan" { return Token(kind: .number, text: text, offset: start) }
        return Token(kind: .identifier, text: text, offset: start)
    }

    private mutating func numberOrDuration(_ start: Int) throws(PromQLError) -> Token {
        // Hexadecimal.
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            index += 2
            while let byte = peek(), Self.isDigit(byte) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66) { index += 1 }
            return Token(kind: .number, text: String(decoding: source[start..<index], as: UTF8.self), offset: start)
        }
        while let byte = peek(), Self.isDigit(byte) { index += 1 }
        // A duration: digits and a unit, repeated (`1h30m`).
        if let unit = peek(), Self.isDurationUnit(unit) {
            var cursor = index
            while true {
                guard let unit = cursor < source.count ? source[cursor] : nil, Self.isDurationUnit(unit) else { break }
                if unit == UInt8(ascii: "m"), cursor + 1 < source.count, source[cursor + 1] == UInt8(ascii: "s") { cursor += 2 } else { cursor += 1 }
                guard cursor < source.count, Self.isDigit(source[cursor]) else { break }
                while cursor < source.count, Self.isDigit(source[cursor]) { cursor += 1 }
            }
            if cursor >= source.count || !(Self.isAlpha(source[cursor]) || Self.isDigit(source[cursor])) {
                index = cursor
                return Token(kind: .duration, text: String(decoding: source[start..<index], as: UTF8.self), offset: start)
            }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var cursor = index + 1
            if cursor < source.count, source[cursor] == UInt8(ascii: "+") || source[cursor] == UInt8(ascii: "-") { cursor += 1 }
            if cursor < source.count, Self.isDigit(source[cursor]) {
                index = cursor
                while let byte = peek(), Self.isDigit(byte) { index += 1 }
            }
        }
        if let byte = peek(), Self.isAlpha(byte) {
            throw error("bad number or duration syntax: \"\(String(decoding: source[start...index], as: UTF8.self))\"", at: start)
        }
        return Token(kind: .number, text: String(decoding: source[start..<index], as: UTF8.self), offset: start)
    }

    private static func isDurationUnit(_ byte: UInt8) -> Bool {
        [UInt8(ascii: "s"), UInt8(ascii: "m"), UInt8(ascii: "h"), UInt8(ascii: "d"), UInt8(ascii: "w"), UInt8(ascii: "y")].contains(byte)
    }

    private mutating func string(_ start: Int, quote: UInt8) throws(PromQLError) -> Token {
        index += 1
        var bytes: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated quoted string", at: start) }
            index += 1
            if byte == quote { break }
            if quote != UInt8(ascii: "`") && byte == UInt8(ascii: "\\") {
                guard let escaped = peek() else { throw error("unterminated quoted string", at: start) }
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): bytes.append(0x0a)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0d)
                case UInt8(ascii: "a"): bytes.append(0x07)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0c)
                case UInt8(ascii: "v"): bytes.append(0x0b)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): bytes.append(escaped)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let count = escaped == UInt8(ascii: "x") ? 2 : escaped == UInt8(ascii: "u") ? 4 : 8
                    guard index + count <= source.count, let value = UInt32(String(decoding: source[index..<index + count], as: UTF8.self), radix: 16) else {
                        throw error("invalid escape sequence in string", at: index - 2)
                    }
                    index += count
                    if escaped == UInt8(ascii: "x") { bytes.append(UInt8(value)) } else {
                        guard let scalar = UnicodeScalar(value) else { throw error("invalid Unicode code point in escape sequence", at: index - count - 2) }
                        bytes += Array(String(Character(scalar)).utf8)
                    }
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    guard index + 2 <= source.count, let value = UInt8(String(decoding: source[index - 1..<index + 2], as: UTF8.self), radix: 8) else {
                        throw error("invalid escape sequence in string", at: index - 2)
                    }
                    index += 2
                    bytes.append(value)
                default:
                    throw error("unknown escape sequence '\(Character(UnicodeScalar(escaped)))'", at: index - 2)
                }
                continue
            }
            if quote != UInt8(ascii: "`") && byte == 0x0a { throw error("unterminated quoted string", at: start) }
            bytes.append(byte)
        }
        return Token(kind: .string, text: String(decoding: bytes, as: UTF8.self), offset: start)
    }
}
