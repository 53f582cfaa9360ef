import Foundation

/// An `Encoder` that builds a `JSONValue` tree directly: the value `JSONEncoder` would write and
/// `JSONValue.parse` read back, without the text in between (the runbook's evidence and the
/// remediation decision, put into each finding; tests compare the two over random values).
/// Numbers become `Double`s as the parser reads them, dates go through `date`, `nil` optionals
/// are left out (`encodeIfPresent`), a value that encodes nothing is `{}`, and NaN, the
/// infinities and trees nested deeper than `maximumDepth` are refused as `JSONEncoder` and the
/// parser refuse them.
public struct JSONValueEncoder {
    public var date: (Date) -> String
    public var maximumDepth: Int

    public init(maximumDepth: Int = JSONValue.maximumDepth, date: @escaping (Date) -> String) {
        self.date = date
        self.maximumDepth = maximumDepth
    }

    public func encode(_ value: some Encodable) throws -> JSONValue {
        let root = Slot()
        try TreeEncoder.encode(value, into: root, path: [], options: self)
        guard !root.isEmpty else {
            // As JSONEncoder: a top-level value must encode something.
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level value did not encode any values."))
        }
        return try root.resolve(depth: 0, maximumDepth: maximumDepth)
    }
}

/// One place in the tree being built: a value, an object or an array (containers may be asked
/// for again and must add to what is there).
final class Slot {
    var value: JSONValue?
    var object: [String: Slot]?
    var array: [Slot]?

    var isEmpty: Bool { value == nil && object == nil && array == nil }

    /// `depth`: how many containers enclose this place.
    func resolve(depth: Int, maximumDepth: Int) throws -> JSONValue {
        if let object {
            guard depth < maximumDepth else { throw Self.tooDeep(maximumDepth) }
            return .object(try object.mapValues { try $0.resolve(depth: depth + 1, maximumDepth: maximumDepth) })
        }
        if let array {
            guard depth < maximumDepth else { throw Self.tooDeep(maximumDepth) }
            return .array(try array.map { try $0.resolve(depth: depth + 1, maximumDepth: maximumDepth) })
        }
        // A value that encoded nothing is `{}`, as JSONEncoder writes it: a container too.
        guard let value else {
            guard depth < maximumDepth else { throw Self.tooDeep(maximumDepth) }
            return .object([:])
        }
        try Self.check(value, depth: depth, maximumDepth: maximumDepth)
        return value
    }

    /// A tree given whole (a `JSONValue` inside the value) is held to what JSONEncoder would
    /// refuse to write or the parser to read: no NaN or infinity, no nesting past the limit.
    /// The walk stops at the limit, so a tree of any depth is refused without exhausting the stack.
    static func check(_ value: JSONValue, depth: Int, maximumDepth: Int) throws {
        switch value {
        case .number(let number) where !number.isFinite:
            throw EncodingError.invalidValue(number, .init(codingPath: [], debugDescription: "\(number) cannot be written as JSON"))
        case .array(let elements):
            guard depth < maximumDepth else { throw tooDeep(maximumDepth) }
            for element in elements { try check(element, depth: depth + 1, maximumDepth: maximumDepth) }
        case .object(let members):
            guard depth < maximumDepth else { throw tooDeep(maximumDepth) }
            for member in members.values { try check(member, depth: depth + 1, maximumDepth: maximumDepth) }
        default: break
        }
    }

    static func tooDeep(_ maximumDepth: Int) -> EncodingError {
        .invalidValue(0, .init(codingPath: [], debugDescription: "nested deeper than \(maximumDepth)"))
    }

    func keyed() -> Slot {
        if object == nil { object = [:]; value = nil; array = nil }
        return self
    }

    func unkeyed() -> Slot {
        if array == nil { array = []; value = nil; object = nil }
        return self
    }
}

struct TreeEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    let options: JSONValueEncoder
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func encode<T: Encodable>(_ value: T, into slot: Slot, path: [any CodingKey], options: JSONValueEncoder) throws {
        switch value {
        case let value as JSONValue: slot.value = value
        case let value as String: slot.value = .string(value)
        case let value as Bool: slot.value = .bool(value)
        case let value as Double: slot.value = try number(value, path)
        case let value as Int: slot.value = .number(Double(value))
        // Every other integer type (`Int8`… `UInt64`): the containers' generic `encode` stands in
        // for their per-type requirements, so these arrive here and must not go back to the
        // value's own `encode(to:)`, which would call the container again.
        case let value as any BinaryInteger: slot.value = integer(value)
        case let value as Date: slot.value = .string(options.date(value))
        case let value as Float:
            // JSONEncoder writes the Float's own shortest text, which the parser reads as a Double.
            guard value.isFinite, let number = Double(value.description) else { throw nonFinite(Double(value), path) }
            slot.value = .number(number)
        case let value as URL: slot.value = .string(value.absoluteString)
        case let value as Data: slot.value = .string(value.base64EncodedString())
        case let value as Decimal:
            guard let number = Double(value.description), number.isFinite else { throw nonFinite(.nan, path) }
            slot.value = .number(number)
        default:
            try value.encode(to: TreeEncoder(slot: slot, codingPath: path, options: options))
        }
    }

    static func number(_ value: Double, _ path: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else { throw nonFinite(value, path) }
        return .number(value)
    }

    static func nonFinite(_ value: Double, _ path: [any CodingKey]) -> EncodingError {
        .invalidValue(value, .init(codingPath: path, debugDescription: "\(value) cannot be written as JSON"))
    }

    static func integer<T: BinaryInteger>(_ value: T) -> JSONValue { .number(Double(value)) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedTreeContainer<Key>(slot: slot.keyed(), codingPath: codingPath, options: options))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedTreeContainer(slot: slot.unkeyed(), codingPath: codingPath, options: options)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleTreeContainer(slot: slot, codingPath: codingPath, options: options)
    }
}

struct TreeKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

struct KeyedTreeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]
    let options: JSONValueEncoder

    private func child(_ key: Key) -> Slot {
        let child = Slot()
        slot.object![key.stringValue] = child
        return child
    }

    /// A nested container or super encoder asked for again under the same key adds to what is
    /// there, as JSONEncoder's does.
    private func existing(_ key: Key) -> Slot {
        slot.object![key.stringValue] ?? child(key)
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).value = .null }
    mutating func encode(_ value: Bool, forKey key: Key) throws { child(key).value = .bool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { child(key).value = .string(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { child(key).value = try TreeEncoder.number(value, codingPath + [key]) }
    mutating func encode(_ value: Int, forKey key: Key) throws { child(key).value = TreeEncoder.integer(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { child(key).value = TreeEncoder.integer(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { child(key).value = TreeEncoder.integer(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try TreeEncoder.encode(value, into: child(key), path: codingPath + [key], options: options)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(slot: existing(key).keyed(), codingPath: codingPath + [key], options: options))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        UnkeyedTreeContainer(slot: existing(key).unkeyed(), codingPath: codingPath + [key], options: options)
    }

    mutating func superEncoder() -> any Encoder {
        TreeEncoder(slot: childNamed("super"), codingPath: codingPath + [TreeKey(stringValue: "super")], options: options)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(slot: existing(key), codingPath: codingPath + [key], options: options)
    }

    private func childNamed(_ name: String) -> Slot {
        if let existing = slot.object![name] { return existing }
        let child = Slot()
        slot.object![name] = child
        return child
    }
}

struct UnkeyedTreeContainer: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    let options: JSONValueEncoder
    var count: Int { slot.array?.count ?? 0 }

    private func next() -> (Slot, [any CodingKey]) {
        let child = Slot()
        let path = codingPath + [TreeKey(intValue: count)]
        slot.array!.append(child)
        return (child, path)
    }

    mutating func encodeNil() throws { next().0.value = .null }
    mutating func encode(_ value: Bool) throws { next().0.value = .bool(value) }
    mutating func encode(_ value: String) throws { next().0.value = .string(value) }
    mutating func encode(_ value: Double) throws {
        let (child, path) = next()
        child.value = try TreeEncoder.number(value, path)
    }
    mutating func encode(_ value: Int) throws { next().0.value = TreeEncoder.integer(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let (child, path) = next()
        try TreeEncoder.encode(value, into: child, path: path, options: options)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let (child, path) = next()
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(slot: child.keyed(), codingPath: path, options: options))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (child, path) = next()
        return UnkeyedTreeContainer(slot: child.unkeyed(), codingPath: path, options: options)
    }

    mutating func superEncoder() -> any Encoder {
        let (child, path) = next()
        return TreeEncoder(slot: child, codingPath: path, options: options)
    }
}

struct SingleTreeContainer: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    let options: JSONValueEncoder

    mutating func encodeNil() throws { slot.value = .null }
    mutating func encode(_ value: Bool) throws { slot.value = .bool(value) }
    mutating func encode(_ value: String) throws { slot.value = .string(value) }
    mutating func encode(_ value: Double) throws { slot.value = try TreeEncoder.number(value, codingPath) }
    mutating func encode(_ value: Int) throws { slot.value = TreeEncoder.integer(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try TreeEncoder.encode(value, into: slot, path: codingPath, options: options)
    }
}
