import AlertModel
import Foundation
@testable import Incidents
@testable import MetricModel
import Testing

/// `JSONValue.parse` and the tree decoder against Foundation's `JSONDecoder`, which they
/// replaced where findings and evidence are read: the same values from the same text, the same
/// texts refused, the same findings.
@Suite("JSON read by hand: the same values and refusals as JSONDecoder")
struct JSONValueParseTests {
    static func foundation(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// `Finding.decode` as it was, through `JSONDecoder`.
    static func foundationFinding(_ bytes: [UInt8]) throws -> Finding {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Finding.parseTimestamp(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not RFC 3339"))
            }
            return date
        }
        return try decoder.decode(Finding.self, from: Data(bytes))
    }

    static let texts = [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"12"#, #"-12.5"#, #"1e3"#, #"1E-7"#, #"2.5e+10"#, #"1.7976931348623157e308"#,
        #"5e-324"#, #"123456789012345678901234567890"#, #"0.1"#, #""""#, #""plain""#, #""\"\\\/\b\f\n\r\t""#, #""\u0041\u00e9\u4e2d""#,
        #""\ud83d\ude00 smile""#, #""é 中 😀 raw""#, #""\u0000 nul""#, #"[]"#, #"{}"#, #"[1, "a", null, true, [], {}]"#,
        #"{"a": {"b": [1, {"c": null}]}, "d": "e"}"#, " \n\t\r {\"spaced\" : [ 1 , 2 ] } \n", #"{"a": 1, "a": 2}"#,
        #"{"labels": {"alertname": "X", "le": "+Inf"}, "value": "NaN", "lines": ["a\nb", "c\"d"]}"#,
    ]

    @Test("valid texts: the same value as JSONDecoder gives")
    func sameValues() throws {
        for text in Self.texts {
            let bytes = Array(text.utf8)
            #expect(try JSONValue.parse(bytes) == Self.foundation(bytes), "\(text)")
        }
        #expect(try JSONValue.parse(Array(#"{"a": 1, "a": 2}"#.utf8)) == .object(["a": .number(1)]))
        #expect(try JSONValue.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
    }

    @Test("random trees: written by JSONEncoder, read back whole, as JSONDecoder reads them")
    func randomTrees() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1f}", "é", "中", "😀", "\u{2028}", "#", "?", "%"]
        func string() -> String { String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }) }
        func tree(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0...(depth > 4 ? 3 : 5), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number([0, -1, 0.5, 1e-9, 1e300, Double(Int32.random(in: .min ... .max, using: &generator)),
                                    Double.random(in: -1e6...1e6, using: &generator)].randomElement(using: &generator)!)
            case 3: return .string(string())
            case 4: return .array((0..<Int.random(in: 0...5, using: &generator)).map { _ in tree(depth + 1) })
            default: return .object(Dictionary((0..<Int.random(in: 0...5, using: &generator)).map { _ in (string(), tree(depth + 1)) }, uniquingKeysWith: { a, _ in a }))
            }
        }
        for _ in 0..<500 {
            let value = tree(0)
            for formatting in [JSONEncoder.OutputFormatting.sortedKeys, [.prettyPrinted, .withoutEscapingSlashes]] {
                let encoder = JSONEncoder()
                encoder.outputFormatting = formatting
                let bytes = Array(try encoder.encode(value))
                let parsed = try JSONValue.parse(bytes)
                #expect(parsed == value)
                #expect(parsed == (try Self.foundation(bytes)))
            }
        }
    }

    @Test("invalid texts: refused, as JSONDecoder refuses them, with the offset")
    func refusals() throws {
        var texts: [[UInt8]] = ["", " ", "{", "}", "[", "[1 2]", #"{"a" 1}"#, #"{a:1}"#, "{1:2}", "01", "-01", "1.", ".5", "-", "+1",
                                "1e", "1e+", "0x10", "NaN", "Infinity", "1e999", "-1e999", "1e-400", "-2.5e-400",
                                "0." + String(repeating: "0", count: 400) + "1", "nul", "tru", "True", "true false", "[1] x", "\"abc",
                                #""\x""#, #""\u12""#, #""\u12g4""#, #""\ud800""#, #""\ud800\u0041""#, #""\udc00""#, "'single'", "[1,,2]"]
            .map { Array($0.utf8) }
        texts += [[0x22, 0x01, 0x22], [0x22, 0x0A, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x5B, 0x00, 0x5D]]
        for bytes in texts {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(throws: JSONValue.ParseError.self, "\(text)") { try JSONValue.parse(bytes) }
            #expect(throws: (any Error).self, "JSONDecoder: \(text)") { try Self.foundation(bytes) }
        }
        // A trailing comma or a byte-order mark: RFC 8259 has neither (JSONDecoder takes both;
        // nothing we read is written with them).
        for text in ["[1,]", #"{"a":1,}"#, "\u{FEFF}1"] {
            #expect(throws: JSONValue.ParseError.self, "\(text)") { try JSONValue.parse(Array(text.utf8)) }
        }
        // Zero written as zero is zero, however long.
        #expect(try JSONValue.parse(Array(("-0.000" + String(repeating: "0", count: 400) + "e-999").utf8)) == .number(0))
        do {
            _ = try JSONValue.parse(Array(#"{"a": [1, 2,]}"#.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.offset == 12)
            #expect(error.description == "invalid JSON at byte 12: unexpected character")
        }
    }

    @Test("random bytes in a string: accepted and read, or refused, exactly as JSONDecoder does")
    func randomStringBytes() throws {
        var generator = SystemRandomNumberGenerator()
        let pool: [UInt8] = [0x00, 0x1F, 0x20, 0x41, 0x22, 0x5C, 0x2F, 0x75, 0x6E, 0x44, 0x38, 0x30, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xA9, 0xE2,
                             0x82, 0xAC, 0xED, 0xA0, 0xF0, 0x9F, 0x98, 0x80, 0xF4, 0x90, 0xF5, 0xFE, 0xFF]
        var accepted = 0
        for _ in 0..<3000 {
            let inner = (0..<Int.random(in: 0...10, using: &generator)).map { _ in pool.randomElement(using: &generator)! }
            let bytes = [0x22] + inner + [0x22]
            let mine = try? JSONValue.parse(bytes)
            #expect(mine == (try? Self.foundation(bytes)), "\(bytes)")
            if mine != nil { accepted += 1 }
        }
        #expect(accepted > 100)
    }

    @Test("nesting: 512 deep is read, deeper is refused without exhausting the stack; 200,000 elements are read")
    func limits() throws {
        let deep = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONValue.parse(Array(deep.utf8)) }
        for depth in [513, 100_000] {
            let tooDeep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(tooDeep.utf8)) }
            let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
            #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(objects.utf8)) }
        }
        let ten = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(throws: Never.self) { try JSONValue.parse(Array(ten.utf8), maximumDepth: 10) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(ten.utf8), maximumDepth: 9) }
        let wide = "[" + Array(repeating: #"{"k":"v"}"#, count: 200_000).joined(separator: ",") + "]"
        guard case .array(let elements) = try JSONValue.parse(Array(wide.utf8)) else { Issue.record("not an array"); return }
        #expect(elements.count == 200_000)
    }

    /// A finding with everything set: diagnostics and a decision with nested structure, silences,
    /// an acknowledgement, odd label values.
    static var fullFinding: Finding {
        var full = finding()
        full.evidence = ["target: reviews-v3", "logs: 12 × \"upstream connect error\"\nsecond line"]
        full.diagnostics = try! JSONValue.parse(Array(#"""
            {"runbook": "IstioHighErrorRate", "steps": [{"name": "pods", "status": "ok", "durationMilliseconds": 23, "lines": ["a", "b"],
             "data": {"ready": 2, "restarts": [0, 1.5, null], "ok": true}}], "targetProblem": null}
            """#.utf8))
        full.decision = .object(["outcome": .string("refused"), "guard": .string("cooldown"), "at": .string("2025-06-15T15:48:40.000Z")])
        full.remediation = "REFUSED by cooldown: …"
        full.alert.labels["weird"] = "../\"#?\u{0}\n😀"
        full.alert.resolvedAt = Date(timeIntervalSince1970: 1_750_002_999.5)
        full.alert.generatorURL = "http://prometheus/graph?g0.expr=up"
        full.message = "reviews is failing"
        full.acknowledgement = Acknowledgement(by: "alice", at: Date(timeIntervalSince1970: 1_750_002_600.25), comment: "on it")
        full.silences = [try! Silence(id: "5a1e", matchers: [#"destination_workload="reviews""#], startsAt: Date(timeIntervalSince1970: 1_750_000_000),
                                      endsAt: Date(timeIntervalSince1970: 1_750_100_000), createdBy: "bob", comment: "deploy")]
        full.escalationLevel = 3
        return full
    }

    @Test("findings: read back equal, and equal to what JSONDecoder read")
    func findings() throws {
        for original in [finding(), finding(kind: .resolved), Self.fullFinding] {
            let bytes = try original.encoded()
            let decoded = try Finding.decode(bytes)
            #expect(decoded == original)
            #expect(decoded == (try Self.foundationFinding(bytes)))
        }
    }

    @Test("diagnostics parsed with 16 levels to spare fit in a finding that reads back; deeper ones would not")
    func deepDiagnostics() throws {
        func nested(_ depth: Int) -> [UInt8] { Array((String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)).utf8) }
        var deep = finding()
        deep.diagnostics = try JSONValue.parse(nested(JSONValue.maximumDepth - 16), maximumDepth: JSONValue.maximumDepth - 16)
        #expect(try Finding.decode(try deep.encoded()) == deep)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(nested(JSONValue.maximumDepth - 15), maximumDepth: JSONValue.maximumDepth - 16) }
        // 512 deep inside a finding: JSONEncoder refuses to write it (or, written, it would not read).
        deep.diagnostics = try JSONValue.parse(nested(JSONValue.maximumDepth))
        #expect(throws: (any Error).self) { try Finding.decode(try deep.encoded()) }
    }

    @Test("findings: what JSONDecoder refused is refused (missing or mistyped fields, null, bad times, garbage)")
    func findingRefusals() throws {
        let good = try JSONSerialization.jsonObject(with: Data(try Self.fullFinding.encoded())) as! [String: Any]
        func variant(_ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
            var copy = good
            change(&copy)
            return Array(try JSONSerialization.data(withJSONObject: copy))
        }
        let bad: [[UInt8]] = [
            try variant { $0["id"] = nil },
            try variant { $0["id"] = 5 },
            try variant { $0["id"] = NSNull() },
            try variant { $0["kind"] = "exploded" },
            try variant { $0["escalationLevel"] = 1.5 },
            try variant { $0["escalationLevel"] = "1" },
            try variant { $0["escalationLevel"] = 1e30 },
            try variant { $0["generatedAt"] = "yesterday" },
            try variant { $0["generatedAt"] = 1_750_002_521 },
            try variant { $0["evidence"] = ["a", 1] },
            try variant { $0["links"] = ["a": 1] },
            try variant { $0["alert"] = "x" },
            try variant { var alert = $0["alert"] as! [String: Any]; alert["activeAt"] = nil; $0["alert"] = alert },
            try variant { $0["silences"] = [["id": "x"]] },
            try variant { $0["acknowledgement"] = ["by": "alice"] },
            Array("{}".utf8), Array("[]".utf8), Array("null".utf8), [], Array(try Self.fullFinding.encoded().dropLast()),
        ]
        for bytes in bad {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(throws: (any Error).self, "\(text.prefix(300))") { try Finding.decode(bytes) }
            #expect(throws: (any Error).self, "JSONDecoder: \(text.prefix(300))") { try Self.foundationFinding(bytes) }
        }
        // Optional fields may be null or absent, as with JSONDecoder.
        let nulls = try variant { $0["diagnostics"] = NSNull(); $0["message"] = NSNull(); $0["silences"] = nil }
        #expect(try Finding.decode(nulls) == (try Self.foundationFinding(nulls)))
        #expect(try Finding.decode(nulls).diagnostics == nil)
    }

    @Test("an alert instance's state written by hand: the same JSON as JSONEncoder's, read back equal by JSONDecoder")
    func alertInstanceState() throws {
        var generator = SystemRandomNumberGenerator()
        let texts = ["", "reviews", "a\"b", "back\\slash", "new\nline", "\t\r\u{0}\u{1f}", "é中😀", "../#?%", "\u{2028}", "/"]
        let dates: [Date?] = [nil, Date(timeIntervalSince1970: 1_750_002_400), Date(timeIntervalSince1970: 1_750_002_400.709),
                              Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1.5), Date(timeIntervalSinceReferenceDate: 1e-7),
                              Date(timeIntervalSince1970: 253_402_300_799.999), Date(timeIntervalSinceReferenceDate: 1e15 + 0.5)]
        for round in 0..<400 {
            var labels: [String: String] = ["alertname": "X\(round)"]
            var annotations: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                labels[texts.randomElement(using: &generator)! + "k"] = texts.randomElement(using: &generator)!
                annotations[texts.randomElement(using: &generator)!] = texts.randomElement(using: &generator)!
            }
            let value = [0.12, .nan, .infinity, -.infinity, 0, -0.0, 1e-300, 1e300, Double.random(in: -1e9...1e9, using: &generator)][round % 9]
            let instance = AlertInstance(labels: Labels(labels), annotations: Labels(annotations),
                                         state: [AlertState.inactive, .pending, .firing][round % 3], value: value,
                                         activeAt: dates[1 + round % (dates.count - 1)]!, firedAt: dates.randomElement(using: &generator)!,
                                         resolvedAt: dates.randomElement(using: &generator)!, lastSentAt: dates.randomElement(using: &generator)!,
                                         keepFiringSince: dates.randomElement(using: &generator)!)
            let mine = try instance.stateJSON()
            let foundation = Array(try JSONEncoder().encode(instance))
            #expect(try JSONValue.parse(mine) == JSONValue.parse(foundation), "\(String(decoding: mine, as: UTF8.self))")
            #expect(try JSONDecoder().decode(AlertInstance.self, from: Data(mine)) == instance)
        }
        // Two label names different in bytes but equal as Swift strings (a decoder keeps both:
        // it compares bytes): written and made into a finding without trapping, the first kept.
        let twins = Labels(presorted: [Label(name: "alertname", value: "X"), Label(name: "e\u{301}", value: "1"), Label(name: "\u{e9}", value: "2")],
                           fingerprint: 1)
        let instance = AlertInstance(labels: twins, annotations: twins, state: .firing, value: 1, activeAt: Date(timeIntervalSince1970: 1))
        #expect(throws: Never.self) { try instance.stateJSON() }
        #expect(try JSONDecoder().decode(AlertInstance.self, from: JSONEncoder().encode(instance)).labels.count == 2)
        let transition = AlertTransition(kind: .firing, group: "g", rule: "X", instance: instance, at: Date(timeIntervalSince1970: 2))
        let twinFinding = Finding(transition: transition, kind: .firing, generatedAt: Date(timeIntervalSince1970: 2))
        #expect(twinFinding.alert.labels.count == 2 && twinFinding.alert.labels["e\u{301}"] == "1")
        var broken = AlertInstance(labels: Labels(["alertname": "X"]), annotations: Labels([:]), state: .firing, value: 1,
                                   activeAt: Date(timeIntervalSince1970: 1))
        broken.firedAt = Date(timeIntervalSinceReferenceDate: .nan)
        // The error can be described (a NaN `Date` in it would trap when logged).
        do {
            _ = try broken.stateJSON()
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("nan"))
        }
        #expect(throws: EncodingError.self) { try JSONEncoder().encode(broken) }
    }

    @Test("a Decodable read from a tree: integers whole and in range, keys and indexes in the error's path")
    func treeDecoding() throws {
        struct Sample: Decodable, Equatable {
            var count: Int
            var small: UInt8
            var ratio: Float
            var tags: [String]
            var nested: [String: [Int]]
            var any: JSONValue
            var maybe: String?
        }
        let value = try JSONValue.parse(Array(#"{"count": 3, "small": 255, "ratio": 0.5, "tags": ["a"], "nested": {"x": [1, 2]}, "any": {"k": [null]}}"#.utf8))
        #expect(try value.decode(Sample.self) == Sample(count: 3, small: 255, ratio: 0.5, tags: ["a"], nested: ["x": [1, 2]],
                                                         any: .object(["k": .array([.null])]), maybe: nil))
        guard case .object(let sample) = value else {
            Issue.record("not an object: \(value)")
            return
        }
        for (key, replacement) in [("small", JSONValue.number(256)), ("small", .number(-1)), ("count", .number(2.5)), ("tags", .array([.number(1)])),
                                   ("ratio", .number(1e300)), ("ratio", .number(1e-50)), ("count", .number(9_007_199_254_740_993)),
                                   ("nested", .object(["x": .array([.null])]))] {
            var members = sample
            members[key] = replacement
            #expect(throws: DecodingError.self, "\(key): \(replacement)") { try JSONValue.object(members).decode(Sample.self) }
        }
        var members = sample
        members["count"] = .number(9_007_199_254_740_991)
        #expect(try JSONValue.object(members).decode(Sample.self).count == 9_007_199_254_740_991)
        members["tags"] = .array([.string("a"), .bool(true)])
        do {
            _ = try JSONValue.object(members).decode(Sample.self)
            Issue.record("accepted")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["tags", "Index 1"])
        }
    }
}
