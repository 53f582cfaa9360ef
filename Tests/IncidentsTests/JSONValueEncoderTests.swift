import Foundation
@testable import MetricModel
import Testing

/// `JSONValueEncoder` against what it replaced in the diagnosis worker: `JSONEncoder`'s text
/// read back by `JSONValue.parse`, for values of every shape Codable produces.
@Suite("Encodable values to JSON trees: JSONEncoder's text, parsed, without the text")
struct JSONValueEncoderTests {
    enum Mode: String, Codable { case on, off }

    struct Inner: Codable {
        var name: String
        var count: Int
        var when: Date?
        var data: JSONValue?
    }

    /// Every shape: scalars of each width, optionals present and absent, nested structs,
    /// arrays, dictionaries with string and integer keys, enums, dates, data, URLs, trees.
    struct Sample: Codable {
        var text: String
        var flag: Bool
        var double: Double
        var float: Float
        var int: Int
        var int8: Int8
        var uint64: UInt64
        var int64: Int64
        var mode: Mode
        var date: Date
        var maybe: String?
        var inners: [Inner]
        var byName: [String: Inner]
        var byNumber: [Int: String]
        var matrix: [[Double]]
        var tree: JSONValue
        var bytes: Data
        var link: URL
        var decimal: Decimal
        var nothing: Empty
        var optionals: [Int?]
    }

    struct Empty: Codable {}

    /// Encodes with a custom `encode(to:)`: nested containers, super encoders, explicit nil.
    struct Custom: Encodable {
        enum Keys: String, CodingKey { case a, b, c, list }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encodeNil(forKey: .a)
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .b)
            try nested.encode("x", forKey: .a)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            try list.encodeNil()
            var inner = list.nestedContainer(keyedBy: Keys.self)
            try inner.encode(true, forKey: .c)
            var innerList = list.nestedUnkeyedContainer()
            try innerList.encode("deep")
            try Inner(name: "super", count: 2, when: nil, data: nil).encode(to: container.superEncoder(forKey: .c))
            try "parent".encode(to: container.superEncoder())
            // Asking again for the same container adds to it; so does a nested one asked for again
            // under the same key.
            var again = encoder.container(keyedBy: Keys.self)
            try again.encode(7, forKey: .a)
            var nestedAgain = again.nestedContainer(keyedBy: Keys.self, forKey: .b)
            try nestedAgain.encode("y", forKey: .c)
            var listAgain = again.nestedUnkeyedContainer(forKey: .list)
            try listAgain.encode("more")
        }
    }

    static func viaText(_ value: some Encodable, maximumDepth: Int = JSONValue.maximumDepth) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.string(date))
        }
        return try JSONValue.parse(Array(try encoder.encode(value)), maximumDepth: maximumDepth)
    }

    static func tree(_ value: some Encodable, maximumDepth: Int = JSONValue.maximumDepth) throws -> JSONValue {
        try JSONValueEncoder(maximumDepth: maximumDepth, date: { RFC3339.string($0) }).encode(value)
    }

    @Test("random values of every shape: the tree JSONEncoder's text parses to")
    func randomValues() throws {
        var random = JSONWriteTests.Random()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            func inner() -> Inner {
                Inner(name: random.string(), count: Int.random(in: .min ... .max, using: &generator),
                      when: random.maybe { $0.date() }, data: random.maybe { $0.tree() })
            }
            var byName: [String: Inner] = [:]
            for _ in 0..<Int.random(in: 0...3, using: &generator) { byName[random.string()] = inner() }
            let sample = Sample(
                text: random.string(), flag: Bool.random(using: &generator), double: random.number(),
                float: [Float(0.1), 1e-7, 3.4e38, -0.0, Float.random(in: -1e6...1e6, using: &generator)].randomElement(using: &generator)!,
                int: Int.random(in: .min ... .max, using: &generator), int8: Int8.random(in: .min ... .max, using: &generator),
                uint64: UInt64.random(in: .min ... .max, using: &generator), int64: Int64.random(in: .min ... .max, using: &generator),
                mode: Bool.random(using: &generator) ? .on : .off, date: random.date(), maybe: random.maybe { $0.string() },
                inners: (0..<Int.random(in: 0...3, using: &generator)).map { _ in inner() }, byName: byName,
                byNumber: [Int.random(in: -5...5, using: &generator): random.string()],
                matrix: [[random.number()], [], [random.number(), random.number()]], tree: random.tree(),
                bytes: Data((0..<Int.random(in: 0...20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }),
                link: URL(string: "https://example.test/a%20b?x=1#f")!, decimal: Decimal(string: "12.5")!, nothing: Empty(),
                optionals: [1, nil, 3])
            #expect(try Self.tree(sample) == Self.viaText(sample))
        }
        #expect(try Self.tree(Custom()) == Self.viaText(Custom()))
        #expect(try Self.tree(Empty()) == .object([:]))
        #expect(try Self.tree(Empty()) == Self.viaText(Empty()))
        #expect(try Self.tree("top") == Self.viaText("top"))
        #expect(try Self.tree([1.5, 2]) == Self.viaText([1.5, 2]))
    }

    @Test("refused where JSONEncoder or the parser refuses: NaN and infinities anywhere, nesting past the limit")
    func refusals() throws {
        for number in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try Self.tree(["a": [number]]) }
            #expect(throws: (any Error).self) { try Self.viaText(["a": [number]]) }
            #expect(throws: EncodingError.self) { try Self.tree(number) }
            #expect(throws: EncodingError.self) { try Self.tree(Float(number)) }
            // Inside a tree given whole, too.
            let embedded = Inner(name: "x", count: 1, when: nil, data: .object(["rows": .array([.number(1), .number(number)])]))
            #expect(throws: EncodingError.self) { try Self.tree(embedded) }
            #expect(throws: (any Error).self) { try Self.viaText(embedded) }
        }
        // A top-level value that encodes nothing: refused, as JSONEncoder refuses it.
        struct Silent: Encodable { func encode(to encoder: any Encoder) throws {} }
        #expect(throws: EncodingError.self) { try Self.tree(Silent()) }
        #expect(throws: (any Error).self) { try Self.viaText(Silent()) }
        // A tree deeper than the limit given whole is refused (the walk stops at the limit).
        let abyss = (0..<2_000).reduce(JSONValue.null) { inner, _ in .array([inner]) }
        #expect(throws: EncodingError.self) { try Self.tree(Inner(name: "n", count: 1, when: nil, data: abyss)) }
        func nested(_ depth: Int) -> JSONValue { (0..<depth).reduce(JSONValue.number(1)) { inner, _ in .array([inner]) } }
        let limit = JSONValue.maximumDepth - 16
        // The tree inside a struct inside an array: the struct and the array count too.
        let inside = [Inner(name: "n", count: 1, when: nil, data: nested(limit - 2))]
        #expect(try Self.tree(inside, maximumDepth: limit) == Self.viaText(inside, maximumDepth: limit))
        let deeper = [Inner(name: "n", count: 1, when: nil, data: nested(limit - 1))]
        #expect(throws: EncodingError.self) { try Self.tree(deeper, maximumDepth: limit) }
        #expect(throws: (any Error).self) { try Self.viaText(deeper, maximumDepth: limit) }
        #expect(throws: EncodingError.self) { try Self.tree(nested(limit + 1), maximumDepth: limit) }
        #expect(try Self.tree(nested(limit), maximumDepth: limit) == nested(limit))
        // A value that encodes nothing is `{}`, a container that counts at the limit too.
        #expect(try Self.tree([[Empty()]], maximumDepth: 3) == Self.viaText([[Empty()]], maximumDepth: 3))
        #expect(throws: EncodingError.self) { try Self.tree([[Empty()]], maximumDepth: 2) }
        #expect(throws: (any Error).self) { try Self.viaText([[Empty()]], maximumDepth: 2) }
    }
}
