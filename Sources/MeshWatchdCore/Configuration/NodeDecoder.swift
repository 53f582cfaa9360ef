/// Decodes `Decodable` values from a `ConfigurationNode`. The keys of an object are the
/// snake_case of the Swift names (`header_files` for `headerFiles`), the keys of a
/// `[String: …]` map are kept as written, and each object notes in the `Ledger` the keys its
/// decoding asked for: synthesized `Decodable` asks for every property, so the keys it did not
/// ask for are exactly the unknown ones.
struct NodeDecoder: Decoder, SingleValueDecodingContainer {
    /// The objects a decoding opened and the keys it asked each of them for.
    final class Ledger {
        struct Object {
            var node: ConfigurationNode
            var codingPath: [any CodingKey]
            /// As written in the file.
            var asked: Set<String> = []
            /// A map's keys are its data: none of them is unknown.
            var freeForm: Bool
        }

        /// In the order they were opened, which is the order of their properties.
        private(set) var objects: [Object] = []
        private var indices: [String: Int] = [:]

        func open(_ node: ConfigurationNode, at codingPath: [any CodingKey], freeForm: Bool) {
            let id = Self.id(codingPath)
            guard indices[id] == nil else { return }
            indices[id] = objects.count
            objects.append(Object(node: node, codingPath: codingPath, freeForm: freeForm))
        }

        func ask(_ key: String, at codingPath: [any CodingKey]) {
            if let index = indices[Self.id(codingPath)] { objects[index].asked.insert(key) }
        }

        private static func id(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "[\($0)]" } ?? "." + key.stringValue }.joined()
        }
    }

    let node: ConfigurationNode
    let codingPath: [any CodingKey]
    let ledger: Ledger
    /// Set while decoding a `[String: …]` map.
    var freeForm = false
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: ConfigurationNode, codingPath: [any CodingKey] = [], ledger: Ledger) {
        self.node = node
        self.codingPath = codingPath
        self.ledger = ledger
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let entries) = node.value else { throw mismatch([String: Any].self, "an object") }
        ledger.open(node, at: codingPath, freeForm: freeForm)
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self, entries: entries))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let items) = node.value else { throw mismatch([Any].self, "a list") }
        return UnkeyedContainer(decoder: self, items: items)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { node.isNull }

    /// Every `decode` of a single value, primitive or not, comes here.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if node.isNull && !(T.self is any ExpressibleByNilLiteral.Type) {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: codingPath, debugDescription: "expected \(T.self), found null"))
        }
        let value: Any?
        switch T.self {
        case is String.Type: value = node.string
        case is Bool.Type: value = node.bool
        case is Double.Type: value = node.number.flatMap(Double.init)
        case is Float.Type: value = node.number.flatMap(Float.init)
        case let integer as any FixedWidthInteger.Type: value = parsed(integer)
        case is any FreeFormMap.Type:
            var decoder = self
            decoder.freeForm = true
            return try T(from: decoder)
        default:
            // A word of a fixed set (a runbook step's kind): say which words there are.
            if let words = Self.words(T.self), let word = node.string, !words.contains(word) {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath,
                                                        debugDescription: "expected one of \(words.joined(separator: ", ")), got \"\(word)\""))
            }
            return try T(from: self)
        }
        guard let typed = value as? T else { throw mismatch(T.self, "\(T.self)") }
        return typed
    }

    /// The raw values of a `CaseIterable` enum of strings.
    private static func words(_ type: Any.Type) -> [String]? {
        guard let cases = type as? any CaseIterable.Type else { return nil }
        func raw<Cases: CaseIterable>(_ type: Cases.Type) -> [String] {
            type.allCases.compactMap { ($0 as? any RawRepresentable)?.rawValue as? String }
        }
        let words = raw(cases)
        return words.isEmpty ? nil : words
    }

    private func parsed<Integer: FixedWidthInteger>(_ type: Integer.Type) -> Integer? { node.number.flatMap { Integer($0) } }

    func child(_ node: ConfigurationNode, key: any CodingKey) -> NodeDecoder {
        NodeDecoder(node: node, codingPath: codingPath + [key], ledger: ledger)
    }

    func mismatch(_ type: Any.Type, _ expected: String) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected)"))
    }
}

/// `[String: …]`: a map whose keys are data (labels, headers, parameters), kept as written.
protocol FreeFormMap {}
extension Dictionary: FreeFormMap where Key == String {}

extension NodeDecoder {
    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: NodeDecoder
        let entries: [ConfigurationNode.Entry]
        var codingPath: [any CodingKey] { decoder.codingPath }
        /// Only a map lists its keys.
        var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

        /// The value of `key`, spelt as in the file, and noted as asked for.
        private func value(_ key: any CodingKey) -> ConfigurationNode? {
            let name = decoder.freeForm ? key.stringValue : ConfigurationError.snakeCase(key.stringValue)
            decoder.ledger.ask(name, at: codingPath)
            return entries.first { $0.key == name }?.value
        }

        private func child(_ key: any CodingKey) throws -> NodeDecoder {
            guard let node = value(key) else { throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing")) }
            return decoder.child(node, key: key)
        }

        func contains(_ key: Key) -> Bool { value(key) != nil }
        func decodeNil(forKey key: Key) throws -> Bool { value(key)?.isNull ?? true }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> any Decoder { try child(IndexKey(stringValue: "super")) }
        func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
    }

    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let decoder: NodeDecoder
        let items: [ConfigurationNode]
        var currentIndex = 0
        var codingPath: [any CodingKey] { decoder.codingPath }
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        /// The next item's decoder, moving past it.
        private mutating func next() throws -> NodeDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the list has no more items"))
            }
            defer { currentIndex += 1 }
            return decoder.child(items[currentIndex], key: IndexKey(index: currentIndex))
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, items[currentIndex].isNull else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    /// A list index, or a key made up by the decoder.
    struct IndexKey: CodingKey {
        var stringValue: String
        var intValue: Int?

        init(index: Int) {
            stringValue = "\(index)"
            intValue = index
        }

        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { self.init(index: intValue) }
    }
}
