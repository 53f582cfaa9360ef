import Foundation

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
        if T.self == JSONValue.self, let whole = value as? T { return whole }
        if T.self == String.self {
            guard case .string(let text) = value, let result = text as? T else { throw mismatch(T.self, value, codingPath) }
            return result
        }
        if T.self == Bool.self {
            guard case .bool(let flag) = value, let result = flag as? T else { throw mismatch(T.self, value, codingPath) }
            return result
        }
        if T.self == Double.self {
            guard case .number(let number) = value, let result = number as? T else { throw mismatch(T.self, value, codingPath) }
            return result
        }
        if T.self == Date.self, let date {
            guard case .string(let text) = value else { throw mismatch(String.self, value, codingPath) }
            guard let parsed = date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "not a date: \(text)"))
            }
            if let result = parsed as? T { return result }
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
