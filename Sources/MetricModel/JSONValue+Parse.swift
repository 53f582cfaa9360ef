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
              number != 0 || !text.prefix { $0 != "e" && $0 != "E" }.contains(where: { ("1"..."9").contains($0) }) else {
            throw JSONValue.ParseError(offset: start, reason: "number \(text) is not representable")
        }
        return number
    }
}

/// A `Decoder` over a `JSONValue` tree (`JSONValue.decode(_:date:)`).
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let date: (@Sendable (String) -> Date?)?
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw Self.mismatch([String: JSONValue].self, value, codingPath) }
        return KeyedDecodingContainer(KeyedJSONValueContainer<Key>(members: members, codingPath: codingPath, date: date))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw Self.mismatch([JSONValue].self, value, codingPath) }
        return UnkeyedJSONValueContainer(elements: elements, codingPath: codingPath, date: date)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleJSONValueContainer(value: value, codingPath: codingPath, date: date) }

    /// One value as `type`: primitives from their case, dates through `date`, a `JSONValue`
    /// whole, anything else through its own `Decodable`.
    static func decode<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ codingPath: [any CodingKey], _ date: (@Sendable (String) -> Date?)?) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        if T.self == String.self {
            guard case .string(let text) = value else { throw mismatch(T.self, value, codingPath) }
            return text as! T
        }
        if T.self == Bool.self {
            guard case .bool(let flag) = value else { throw mismatch(T.self, value, codingPath) }
            return flag as! T
        }
        if T.self == Double.self {
            guard case .number(let number) = value else { throw mismatch(T.self, value, codingPath) }
            return number as! T
        }
        if T.self == Date.self, let date {
            guard case .string(let text) = value else { throw mismatch(String.self, value, codingPath) }
            guard let parsed = date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "not a date: \(text)"))
            }
            return parsed as! T
        }
        return try T(from: JSONValueDecoder(value: value, codingPath: codingPath, date: date))
    }

    /// An integer or float type from a number: integers must be whole and in range.
    static func number<T: BinaryInteger>(_ type: T.Type, _ value: JSONValue, _ codingPath: [any CodingKey]) throws -> T {
        guard case .number(let number) = value else { throw mismatch(T.self, value, codingPath) }
        guard number.magnitude < 0x1p53, let exact = T(exactly: number) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "number \(number) does not fit in \(T.self)"))
        }
        return exact
    }

    static func float<T: BinaryFloatingPoint>(_ type: T.Type, _ value: JSONValue, _ codingPath: [any CodingKey]) throws -> T {
        guard case .number(let number) = value else { throw mismatch(T.self, value, codingPath) }
        let converted = T(number)
        guard converted.isFinite, converted != 0 || number == 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "number \(number) does not fit in \(T.self)"))
        }
        return converted
    }

    static func mismatch(_ type: Any.Type, _ value: JSONValue, _ codingPath: [any CodingKey]) -> DecodingError {
        let found: String
        switch value {
        case .null: found = "null"
        case .bool: found = "a boolean"
        case .number: found = "a number"
        case .string: found = "a string"
        case .array: found = "an array"
        case .object: found = "an object"
        }
        if value == .null {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found null"))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(found)"))
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "Index \(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct KeyedJSONValueContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]
    let date: (@Sendable (String) -> Date?)?

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for key \"\(key.stringValue)\""))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try JSONValueDecoder.decode(T.self, try member(key), codingPath + [key], date)
    }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try JSONValueDecoder.decode(Bool.self, try member(key), codingPath + [key], date) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try JSONValueDecoder.decode(String.self, try member(key), codingPath + [key], date) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try JSONValueDecoder.float(Double.self, try member(key), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try JSONValueDecoder.float(Float.self, try member(key), codingPath + [key]) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    private func integer<T: BinaryInteger>(_ key: Key) throws -> T { try JSONValueDecoder.number(T.self, try member(key), codingPath + [key]) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: try member(key), codingPath: codingPath + [key], date: date).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoder(value: try member(key), codingPath: codingPath + [key], date: date).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder {
        JSONValueDecoder(value: members["super"] ?? .null, codingPath: codingPath, date: date)
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONValueDecoder(value: members[key.stringValue] ?? .null, codingPath: codingPath + [key], date: date)
    }
}

private struct UnkeyedJSONValueContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    let date: (@Sendable (String) -> Date?)?
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey], date: (@Sendable (String) -> Date?)?) {
        self.elements = elements
        self.codingPath = codingPath
        self.date = date
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func next(_ type: Any.Type) throws -> (JSONValue, [any CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [IndexKey(currentIndex)], debugDescription: "the array has no more elements"))
        }
        defer { currentIndex += 1 }
        return (elements[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw DecodingError.valueNotFound(Any?.self, .init(codingPath: codingPath, debugDescription: "the array has no more elements")) }
        if elements[currentIndex] == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, path) = try next(T.self)
        return try JSONValueDecoder.decode(T.self, value, path, date)
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { let (value, path) = try next(Bool.self); return try JSONValueDecoder.decode(Bool.self, value, path, date) }
    mutating func decode(_ type: String.Type) throws -> String { let (value, path) = try next(String.self); return try JSONValueDecoder.decode(String.self, value, path, date) }
    mutating func decode(_ type: Double.Type) throws -> Double { let (value, path) = try next(Double.self); return try JSONValueDecoder.float(Double.self, value, path) }
    mutating func decode(_ type: Float.Type) throws -> Float { let (value, path) = try next(Float.self); return try JSONValueDecoder.float(Float.self, value, path) }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    private mutating func integer<T: BinaryInteger>() throws -> T {
        let (value, path) = try next(T.self)
        return try JSONValueDecoder.number(T.self, value, path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (value, path) = try next([String: JSONValue].self)
        return try JSONValueDecoder(value: value, codingPath: path, date: date).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (value, path) = try next([JSONValue].self)
        return try JSONValueDecoder(value: value, codingPath: path, date: date).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder {
        let (value, path) = try next(JSONValue.self)
        return JSONValueDecoder(value: value, codingPath: path, date: date)
    }
}

private struct SingleJSONValueContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let date: (@Sendable (String) -> Date?)?

    func decodeNil() -> Bool { value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONValueDecoder.decode(T.self, value, codingPath, date) }
    func decode(_ type: Bool.Type) throws -> Bool { try JSONValueDecoder.decode(Bool.self, value, codingPath, date) }
    func decode(_ type: String.Type) throws -> String { try JSONValueDecoder.decode(String.self, value, codingPath, date) }
    func decode(_ type: Double.Type) throws -> Double { try JSONValueDecoder.float(Double.self, value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try JSONValueDecoder.float(Float.self, value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try JSONValueDecoder.number(Int.self, value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try JSONValueDecoder.number(Int8.self, value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try JSONValueDecoder.number(Int16.self, value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try JSONValueDecoder.number(Int32.self, value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try JSONValueDecoder.number(Int64.self, value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try JSONValueDecoder.number(UInt.self, value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONValueDecoder.number(UInt8.self, value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONValueDecoder.number(UInt16.self, value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONValueDecoder.number(UInt32.self, value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONValueDecoder.number(UInt64.self, value, codingPath) }
}
