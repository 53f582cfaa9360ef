import Foundation
@testable import Incidents
@testable import MetricModel
import Testing

/// JSON written by hand (findings, evidence trees, Alertmanager bodies) against what Foundation
/// wrote before: the same bytes as `JSONEncoder` for findings and trees, the same JSON value as
/// `JSONSerialization` for Alertmanager's alerts. And SHA-256/HMAC against OpenSSL.
@Suite("JSON written by hand: JSONEncoder's bytes; SHA-256 as OpenSSL computes it")
struct JSONWriteTests {
    /// Strings with what escaping must get right: quotes, backslashes, every control character
    /// class (short escapes and `\u00XX`), DEL, `/`, non-ASCII, non-BMP, U+2028, canonically
    /// equal but byte-distinct forms, digits (a numeric sort would differ), upper and lower case.
    static let alphabet: [String] = ["a", "Z", "b", "A", "0", "9", "10", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}",
                                     "\u{01}", "\u{1F}", "\u{7F}", "é", "e\u{301}", "ä", "中", "😀", "\u{2028}", "#", "?", "%", "_", "-", "~", "../"]

    struct Random {
        var generator = SystemRandomNumberGenerator()

        mutating func string(_ length: ClosedRange<Int> = 0...10) -> String {
            var text = ""
            for _ in 0..<Int.random(in: length, using: &generator) { text += JSONWriteTests.alphabet.randomElement(using: &generator)! }
            return text
        }

        mutating func number() -> Double {
            switch Int.random(in: 0...6, using: &generator) {
            case 0: return [0, -0.0, 1, -1, 0.1, 1e-7, 1e15, 1e16, 1e21, 1.7976931348623157e308, 9007199254740992, .leastNonzeroMagnitude, 123.456].randomElement(using: &generator)!
            case 1: return Double(Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &generator))
            case 2: return Double.random(in: -1...1, using: &generator)
            case 3: return Double.random(in: -1e25...1e25, using: &generator)
            default:
                // Any finite bit pattern: every exponent, subnormals included.
                while true {
                    let value = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &generator))
                    if value.isFinite { return value }
                }
            }
        }

        mutating func tree(_ depth: Int = 0) -> JSONValue {
            switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number(number())
            case 3: return .string(string())
            case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in tree(depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for _ in 0..<Int.random(in: 0...5, using: &generator) { members[string(0...4)] = tree(depth + 1) }
                return .object(members)
            }
        }

        mutating func labels() -> [String: String] {
            var labels: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &generator) { labels[string(0...5)] = string() }
            return labels
        }

        mutating func date() -> Date {
            Date(timeIntervalSince1970: [0, 1_750_000_000.125, Double.random(in: -1e10...1e11, using: &generator), 253_402_300_799.999]
                .randomElement(using: &generator)!)
        }

        mutating func maybe<T>(_ make: (inout Random) -> T) -> T? {
            Bool.random(using: &generator) ? make(&self) : nil
        }

        mutating func finding() throws -> Finding {
            var finding = IncidentsTests.finding(string(1...6), kind: [.firing, .resolved, .reminder, .escalated, .acknowledged].randomElement(using: &generator)!)
            finding.alert.labels = labels()
            finding.alert.annotations = labels()
            finding.alert.group = string()
            finding.alert.value = string()
            finding.alert.activeAt = date()
            finding.alert.firedAt = maybe { $0.date() }
            finding.alert.resolvedAt = maybe { $0.date() }
            finding.alert.generatorURL = maybe { $0.string() }
            finding.severity = string()
            finding.escalationLevel = Int.random(in: -3...1_000_000, using: &generator)
            finding.evidence = (0..<Int.random(in: 0...4, using: &generator)).map { _ in string() }
            finding.diagnostics = maybe { $0.tree() }
            finding.decision = maybe { $0.tree() }
            finding.remediation = maybe { $0.string() }
            finding.links = labels()
            finding.generatedAt = date()
            finding.message = maybe { $0.string() }
            if Int.random(in: 0...4, using: &generator) == 0 {
                finding.acknowledgement = Acknowledgement(by: string(), at: date(), comment: string())
            }
            if Int.random(in: 0...4, using: &generator) == 0 {
                let start = date()
                finding.silences = [try Silence(id: "5a1e", matchers: [#"destination_workload="reviews""#], startsAt: start,
                                                endsAt: start.addingTimeInterval(3_600), createdBy: "bob " + string(), comment: "c " + string())]
            }
            return finding
        }
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    @Test("trees: JSONEncoder's bytes for random values (escapes, numbers of every exponent, key order)")
    func trees() throws {
        var random = Random()
        for _ in 0..<2_000 {
            let value = random.tree()
            let expected = Array(try Self.encoder().encode(value))
            let written = try value.jsonBytes()
            #expect(written == expected, "\(String(decoding: written, as: UTF8.self)) != \(String(decoding: expected, as: UTF8.self))")
            #expect(try JSONValue.parse(written) == value)
        }
        for _ in 0..<20_000 {
            let number = random.number()
            #expect(try JSONValue.number(number).jsonBytes() == Array(try Self.encoder().encode(JSONValue.number(number))), "\(number)")
        }
        #expect(JSONValue.object(["b": .null, "a": .array([.string("x\u{08}\u{0C}/")])]).text == #"{"a":["x\b\f/"],"b":null}"#)
    }

    @Test("key order: UTF-8 byte order, as .sortedKeys (empty keys, prefixes, decomposed forms)")
    func keyOrder() {
        var random = Random()
        for _ in 0..<20_000 {
            let a = random.string(0...4), b = Bool.random() ? a + random.string(0...2) : random.string(0...4)
            #expect(JSONText.precedes(a, b) == a.utf8.lexicographicallyPrecedes(b.utf8), "\(a.debugDescription) \(b.debugDescription)")
            #expect(JSONText.precedes(b, a) == b.utf8.lexicographicallyPrecedes(a.utf8))
        }
        #expect(JSONText.precedes("", "a") && !JSONText.precedes("a", "") && !JSONText.precedes("", ""))
        #expect(JSONText.precedes("e\u{301}", "é") && !JSONText.precedes("é", "e\u{301}"))
    }

    @Test("numbers JSON cannot hold: refused, as JSONEncoder refuses them")
    func nonFinite() throws {
        for number in [Double.nan, .infinity, -.infinity, -Double.nan] {
            let value = JSONValue.array([.object(["a": .number(number)])])
            #expect(throws: JSONTextError.self) { try value.jsonBytes() }
            #expect(throws: (any Error).self) { try Self.encoder().encode(value) }
            #expect(value.text == "null")
        }
        var finding = finding()
        finding.diagnostics = .object(["ratio": .number(.nan)])
        #expect(throws: JSONTextError.self) { try finding.encoded() }
        #expect(throws: (any Error).self) { try Finding.encoderBytes(finding) }
    }

    @Test("nesting: as deep as JSONEncoder writes (511 levels, a finding's trees one less), deeper refused as it refuses")
    func nesting() throws {
        func nested(_ depth: Int) -> JSONValue { (0..<depth).reduce(JSONValue.number(1)) { inner, _ in .object(["a": inner]) } }
        // JSONEncoder writes 511 levels and refuses a 512th; the parser reads 512.
        #expect(try nested(JSONText.maximumDepth).jsonBytes() == Array(try Self.encoder().encode(nested(JSONText.maximumDepth))))
        #expect(try JSONValue.parse(nested(JSONText.maximumDepth).jsonBytes()) == nested(JSONText.maximumDepth))
        #expect(throws: JSONTextError.self) { try nested(JSONText.maximumDepth + 1).jsonBytes() }
        #expect(throws: (any Error).self) { try Self.encoder().encode(nested(JSONText.maximumDepth + 1)) }
        #expect(throws: JSONTextError.self) { try JSONValue.array([nested(JSONText.maximumDepth)]).jsonBytes() }
        #expect(JSONValue.array([nested(JSONText.maximumDepth)]).text == "null")
        var deep = finding()
        deep.diagnostics = nested(JSONText.maximumDepth - 1)
        #expect(try deep.encoded() == Finding.encoderBytes(deep))
        #expect(try Finding.decode(try deep.encoded()) == deep)
        deep.diagnostics = nested(JSONText.maximumDepth)
        #expect(throws: JSONTextError.self) { try deep.encoded() }
        #expect(throws: (any Error).self) { try Finding.encoderBytes(deep) }
        deep.diagnostics = nil
        deep.decision = .array([nested(JSONText.maximumDepth - 1)])
        #expect(throws: JSONTextError.self) { try deep.encoded() }
    }

    @Test("findings: JSONEncoder's bytes for random findings, read back equal")
    func findings() throws {
        var random = Random()
        var samples = [finding(), finding(kind: .resolved), JSONValueParseTests.fullFinding]
        for _ in 0..<1_000 { samples.append(try random.finding()) }
        for sample in samples {
            let written = try sample.encoded()
            let expected = try Finding.encoderBytes(sample)
            #expect(written == expected, "\(String(decoding: written, as: UTF8.self))\n!=\n\(String(decoding: expected, as: UTF8.self))")
            // Read back as JSONDecoder reads it (times travel with milliseconds, and a `null`
            // diagnostics tree reads back as none: both as before).
            #expect(try Finding.decode(written) == JSONValueParseTests.foundationFinding(written))
        }
    }

    @Test("Alertmanager's alert: the JSON value JSONSerialization wrote, for random findings")
    func alertmanagerBody() throws {
        var random = Random()
        for _ in 0..<500 {
            let alert = AlertmanagerSink.alert(try random.finding(), at: Date(timeIntervalSince1970: 1_750_000_000), validFor: .seconds(240))
            var object: [String: Any] = ["labels": alert.labels, "annotations": alert.annotations, "startsAt": alert.startsAt, "endsAt": alert.endsAt]
            if let generatorURL = alert.generatorURL { object["generatorURL"] = generatorURL }
            let foundation = try JSONSerialization.data(withJSONObject: [object], options: [.sortedKeys, .withoutEscapingSlashes])
            let written = alert.body
            #expect(try JSONValue.parse(written) == JSONValue.parse(Array(foundation)))
            #expect(try JSONValue.parse(written) == (try JSONDecoder().decode(JSONValue.self, from: Data(written))))
        }
    }

    @Test("SHA-256 and HMAC-SHA256: OpenSSL's digests at every length around the block edges, FIPS 180-4's and RFC 4231's vectors")
    func digests() throws {
        #expect(Digest.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                    == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // RFC 4231 test case 2 and 6 (a key longer than the block).
        #expect(Digest.hmacSHA256Hex(key: "Jefe", message: Array("what do ya want for nothing?".utf8))
                    == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(SHA256.hmac(key: [UInt8](repeating: 0xaa, count: 131), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                    .map { String(format: "%02x", $0) }.joined() == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        var generator = SystemRandomNumberGenerator()
        for length in Array(0...300) + [1_000, 4_095, 4_096, 65_537] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Digest.hex(SHA256.hash(bytes)) == Digest.openSSLSHA256Hex(bytes), "length \(length)")
            let key = (0..<(length % 150)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Digest.hex(SHA256.hmac(key: key, message: bytes)) == Digest.openSSLHMACSHA256Hex(key: key, message: bytes), "length \(length)")
        }
        let text = "group\u{0}1f\u{0}1750000000.0\u{0}firing\u{0}0 é 😀"
        #expect(Digest.sha256Hex(text) == Digest.openSSLSHA256Hex(Array(text.utf8)))
    }
}
