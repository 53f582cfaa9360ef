/// Parses JSON as RFC 8259 defines it and no more (Foundation's parser also takes trailing
/// commas, and reports a byte offset): no trailing commas, comments, single quotes or bare
/// words, and every mistake with its line and column.
struct StrictJSONParser {
    private let bytes: [UInt8]
    private let file: String
    private var index = 0
    private var position = SourcePosition(line: 1, column: 1)
    private var depth = 0

    /// The document in `bytes` (UTF-8), which must be one JSON value and nothing after it.
    static func parse(_ bytes: [UInt8], file: String) throws(ConfigurationError) -> ConfigurationNode {
        var parser = StrictJSONParser(bytes: bytes, file: file)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }  // a byte order mark, which RFC 8259 lets a parser ignore
        parser.skipWhitespace()
        let root = try parser.value()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.unexpected("the end of the file after the document") }
        return root
    }

    private init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func advance() {
        let byte = bytes[index]
        index += 1
        if byte == UInt8(ascii: "\n") {
            position.line += 1
            position.column = 1
        } else if byte & 0xC0 != 0x80 {  // not a UTF-8 continuation byte: a new scalar
            position.column += 1
        }
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { advance() }
    }

    private func error(_ message: String, at position: SourcePosition? = nil) -> ConfigurationError {
        ConfigurationError(file: file, position: position ?? self.position, keyPath: "", message: message)
    }

    /// What is wrong with the byte here, where `expected` should be.
    private func unexpected(_ expected: String) -> ConfigurationError {
        guard let byte = current else { return error("unexpected end of file, expected \(expected)") }
        if byte == UInt8(ascii: "/"), index + 1 < bytes.count, [UInt8(ascii: "/"), UInt8(ascii: "*")].contains(bytes[index + 1]) {
            return error("comments are not allowed in JSON")
        }
        let found = byte < 0x80 ? "'\(Character(Unicode.Scalar(byte)))'" : "a non-ASCII character"
        return error("expected \(expected), found \(found)")
    }

    private mutating func value() throws(ConfigurationError) -> ConfigurationNode {
        let start = position
        guard let byte = current else { throw unexpected("a value") }
        switch byte {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return ConfigurationNode(value: .scalar(try string(), quoted: true), position: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return ConfigurationNode(value: .scalar(try number(), quoted: false), position: start)
        default:
            for word in ["true", "false", "null"] where bytes[index...].starts(with: word.utf8) {
                for _ in word.utf8 { advance() }
                return ConfigurationNode(value: .scalar(word, quoted: false), position: start)
            }
            throw unexpected("a value")
        }
    }

    private mutating func nest() throws(ConfigurationError) {
        depth += 1
        if depth > 100 { throw error("nested more than 100 levels deep") }
    }

    private mutating func object() throws(ConfigurationError) -> ConfigurationNode {
        let start = position
        try nest()
        advance()
        var entries: [ConfigurationNode.Entry] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            advance()
        } else {
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw unexpected("a key in double quotes") }
                let keyPosition = position
                let key = try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw unexpected("':' after the key \"\(key)\"") }
                advance()
                skipWhitespace()
                entries.append(.init(key: key, keyPosition: keyPosition, value: try value()))
                skipWhitespace()
                if current == UInt8(ascii: "}") {
                    advance()
                    break
                }
                guard current == UInt8(ascii: ",") else { throw unexpected("',' or '}' after the value of \"\(key)\"") }
                try comma(before: UInt8(ascii: "}"))
            }
        }
        depth -= 1
        return ConfigurationNode(value: .mapping(entries), position: start)
    }

    private mutating func array() throws(ConfigurationError) -> ConfigurationNode {
        let start = position
        try nest()
        advance()
        var items: [ConfigurationNode] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            advance()
        } else {
            while true {
                skipWhitespace()
                items.append(try value())
                skipWhitespace()
                if current == UInt8(ascii: "]") {
                    advance()
                    break
                }
                guard current == UInt8(ascii: ",") else { throw unexpected("',' or ']' after an item of the list") }
                try comma(before: UInt8(ascii: "]"))
            }
        }
        depth -= 1
        return ConfigurationNode(value: .sequence(items), position: start)
    }

    /// Takes a comma, which must not be the last thing before `close`.
    private mutating func comma(before close: UInt8) throws(ConfigurationError) {
        let at = position
        advance()
        skipWhitespace()
        if current == close {
            throw error("trailing comma before '\(Character(Unicode.Scalar(close)))' (JSON allows none)", at: at)
        }
    }

    private mutating func string() throws(ConfigurationError) -> String {
        advance()  // the opening quote
        var text: [UInt8] = []
        while true {
            guard let byte = current else { throw error("unexpected end of file in a string") }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                return String(decoding: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let at = position
                advance()
                text += try escape(at: at)
            case 0..<0x20:
                throw error("a control character in a string must be escaped (\\n, \\t, \\u00XX)")
            default:
                text.append(byte)
                advance()
            }
        }
    }

    /// The bytes of the escape after a backslash.
    private mutating func escape(at start: SourcePosition) throws(ConfigurationError) -> [UInt8] {
        guard let byte = current else { throw error("unexpected end of file in a string") }
        let simple: [UInt8: UInt8] = [UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
                                      UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09]
        advance()
        if let replacement = simple[byte] { return [replacement] }
        guard byte == UInt8(ascii: "u") else { throw error("invalid escape in a string", at: start) }
        var scalar = try hexQuad(at: start)
        if (0xD800..<0xDC00).contains(scalar) {  // a high surrogate: its low half must follow
            guard bytes[index...].starts(with: "\\u".utf8) else { throw error("\\u escape of an unpaired surrogate", at: start) }
            advance()
            advance()
            let low = try hexQuad(at: start)
            guard (0xDC00..<0xE000).contains(low) else { throw error("\\u escape of an unpaired surrogate", at: start) }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw error("\\u escape of an unpaired surrogate", at: start) }
        return Array(String(Character(unicode)).utf8)
    }

    private mutating func hexQuad(at start: SourcePosition) throws(ConfigurationError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                throw error("\\u must be followed by four hexadecimal digits", at: start)
            }
            value = value * 16 + UInt32(digit)
            advance()
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(ConfigurationError) -> String {
        let start = index
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } ?? false }
        if current == UInt8(ascii: "-") { advance() }
        guard isDigit(current) else { throw unexpected("a digit") }
        if current == UInt8(ascii: "0") {
            advance()
            if isDigit(current) { throw error("a number must not start with 0") }
        }
        while isDigit(current) { advance() }
        if current == UInt8(ascii: ".") {
            advance()
            guard isDigit(current) else { throw unexpected("a digit after the decimal point") }
            while isDigit(current) { advance() }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            advance()
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
            guard isDigit(current) else { throw unexpected("a digit in the exponent") }
            while isDigit(current) { advance() }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}
