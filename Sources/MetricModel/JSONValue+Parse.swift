import Foundation

/// JSON text (RFC 8259) read straight into a `JSONValue`, and `Decodable` values read from a
/// `JSONValue` without going back through text.
///
/// Foundation's `JSONDecoder` reads a `JSONValue` by trying each type in turn, and every failed
/// try builds a `DecodingError` with its coding path and message: a 3.5 KB finding cost 3.5
/// million instructions to decode, most of the daemon's CPU per cycle with an Alertmanager sink.
/// Here the text is parsed once into the tree and a `JSONValue` inside a decoded type is taken
/// whole. What `JSONDecoder` refuses is refused here too: invalid UTF-8, control characters in
/// strings, lone surrogates, numbers out of `Double`'s range (too big, or so small they would
/// read as 0), trailing text, nesting deeper than 512. Where an object repeats a key, the first
/// value counts (as with `JSONDecoder`). Unlike `JSONDecoder`, a trailing comma (`[1,]`), a
/// byte-order mark and UTF-16 or UTF-32 text are refused (RFC 8259: JSON is UTF-8, no BOM).
/// The tree keeps numbers as `Double`: an integer of 2^53 or more is refused when decoded as
/// an integer type (it cannot be exact), where `JSONDecoder` reads its digits.
extension JSONValue {
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        /// The byte offset where the text stopped being JSON.
        public var offset: Int
        public var reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// The deepest nesting of arrays and objects read (as `JSONDecoder`'s).
    public static let maximumDepth = 512

    /// The value the whole of `bytes` holds (whitespace around it allowed), nested at most
    /// `maximumDepth` deep (less for a value that will be placed inside another document, so
    /// that the document can be read back).
    public static func parse(_ bytes: some Collection<UInt8>, maximumDepth: Int = maximumDepth) throws(ParseError) -> JSONValue {
        if let result = bytes.withContiguousStorageIfAvailable({ buffer in
            Result { () throws(ParseError) in try parse(buffer, maximumDepth: maximumDepth) }
        }) {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBufferPointer { buffer throws(ParseError) in try parse(buffer, maximumDepth: maximumDepth) }
    }

    private static func parse(_ buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int) throws(ParseError) -> JSONValue {
        var parser = JSONTextParser(bytes: buffer, maximumDepth: min(maximumDepth, Self.maximumDepth))
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.offset == buffer.count else { throw parser.error("text after the value") }
        return value
    }

    /// A `Decodable` read from this value, as `JSONDecoder` would read it from the value's text;
    /// `date` reads dates from strings (without it a date is read as `Date`'s own `Decodable`
    /// does, a number of seconds since 2001).
    public func decode<T: Decodable>(_ type: T.Type, date: (@Sendable (String) -> Date?)? = nil) throws -> T {
        try T(from: JSONValueDecoder(value: self, codingPath: [], date: date))
    }
}

private struct JSONTextParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    var offset = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    func error(_ reason: String) -> JSONValue.ParseError { JSONValue.ParseError(offset: offset, reason: reason) }

    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard offset < bytes.count else { throw error("unexpected end") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONValue.ParseError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - offset >= count else { throw error("unexpected end") }
        for index in 0..<count where bytes[offset + index] != word.utf8Start[index] { throw error("unexpected character") }
        offset += count
    }

    mutating func object(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw error("nested deeper than \(maximumDepth)") }
        offset += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try string()
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
            offset += 1
            skipWhitespace()
            let member = try value(depth: depth)
            if members[key] == nil { members[key] = member }
            skipWhitespace()
            guard offset < bytes.count else { throw error("unexpected end") }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return .object(members)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    mutating func array(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw error("nested deeper than \(maximumDepth)") }
        offset += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard offset < bytes.count else { throw error("unexpected end") }
            if bytes[offset] == UInt8(ascii: ",") {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return .array(elements)
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    /// A string at `offset` (its opening quote); the UTF-8 is checked, escapes resolved.
    mutating func string() throws(JSONValue.ParseError) -> String {
        offset += 1
        let start = offset
        // The common case: no escape, so the bytes between the quotes are the string.
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let text = try validated(UnsafeBufferPointer(rebasing: bytes[start..<offset]), at: start)
                offset += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in a string") }
            offset += 1
        }
        var out = Array(bytes[start..<offset])
        while offset < bytes.count {
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                let text = try out.withUnsafeBufferPointer { buffer throws(JSONValue.ParseError) in try validated(buffer, at: start) }
                offset += 1
                return text
            case UInt8(ascii: "\\"):
                offset += 1
                guard offset < bytes.count else { throw error("unexpected end") }
                let escaped = bytes[offset]
                offset += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try hex4())
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard bytes.count - offset >= 2, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                            throw error("a high surrogate without its low surrogate")
                        }
                        offset += 2
                        let low = UInt32(try hex4())
                        guard (0xDC00..<0xE000).contains(low) else { throw error("a high surrogate without its low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("a low surrogate without its high surrogate")
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default: throw error("unknown escape")
                }
            default:
                if byte < 0x20 { throw error("control character in a string") }
                out.append(byte)
                offset += 1
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws(JSONValue.ParseError) -> UInt16 {
        guard bytes.count - offset >= 4 else { throw error("unexpected end") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            offset += 1
        }
        return value
    }

    /// The bytes as a string, if they are UTF-8. `String(decoding:)` puts U+FFFD where the bytes
    /// are not UTF-8, so the bytes were valid exactly when the string's UTF-8 is them again
    /// (`String(validating:)` is generic and looks up conformances at each call).
    func validated(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int) throws(JSONValue.ParseError) -> String {
        let text = String(decoding: buffer, as: UTF8.self)
        guard buffer.allSatisfy({ $0 < 0x80 }) || text.utf8.elementsEqual(buffer) else {
            throw JSONValue.ParseError(offset: start, reason: "invalid UTF-8 in a string")
        }
        return text
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, as a finite `Double`.
    mutating func number() throws(JSONValue.ParseError) -> Double {
        let start = offset
        func digits(_ parser: inout JSONTextParser) -> Int {
            let first = parser.offset
            while parser.offset < parser.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.offset]) { parser.offset += 1 }
            return parser.offset - first
        }
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard offset < bytes.count else { throw error("unexpected end") }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
        } else if digits(&self) == 0 {
            throw error("expected a digit")
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits(&self) > 0 else { throw error("expected a digit after '.'") }
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard digits(&self) > 0 else { throw error("expected a digit in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        guard let number = Double(text), number.isFinite,
              number != 0 || !text.prefix(while: { $0 != "e" && $0 != "E" }).contains(where: { ("1"..."9").contains($0) }) else {
            throw JSONValue.ParseError(offset: start, reason: "number \(text) is not representable")
        }
        return number
    }
}
