import Foundation
import MeshFixtures
@testable import PromQL
import Testing

/// `RegexSyntax.error` gives, for every regex of a corpus, exactly promtool 2.42's verdict on
/// `up{a=~"<regex>"}`: nil where promtool accepts it, else the text after `parse error: `. The corpus
/// (`Resources/regex-corpus.txt`) has every error code several times and tricky valid patterns;
/// added here: the empty pattern, values that are not UTF-8 (written with PromQL's `\xNN`), and
/// patterns at Go's parse limits (nesting depth, compiled size, runes in classes), too long for a line.
@Suite("Regex matchers against promtool 2.42")
struct RegexSyntaxTests {
    /// A matcher value: its bytes (a PromQL string can hold bytes that are not UTF-8).
    struct Case {
        var bytes: [UInt8]
        var label: String { String(decoding: bytes.prefix(120), as: UTF8.self) + (bytes.count > 120 ? "… (\(bytes.count) bytes)" : "") }
        /// The value as a PromQL double-quoted string.
        var promQL: String {
            var text = "\""
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"): text += "\\\\"
                case UInt8(ascii: "\""): text += "\\\""
                case 0x80...: text += String(format: "\\x%02x", byte)
                default: text += String(UnicodeScalar(byte))
                }
            }
            return text + "\""
        }
    }

    static func corpus() throws -> [String] {
        let url = try #require(Bundle.module.url(forResource: "regex-corpus", withExtension: "txt", subdirectory: "Resources"))
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("# ") }
    }

    static func generated() -> [[UInt8]] {
        func repeated(_ text: String, _ count: Int) -> String { String(repeating: text, count: count) }
        var patterns: [String] = [""]
        // Height of the parse tree: ^, the captures and $ make n + 2 levels; Go allows 1000.
        for n in [998, 999] {
            patterns.append(repeated("(", n) + "a" + repeated(")", n))
            patterns.append(repeated("(?:a|b", n / 2) + repeated(")", n / 2))
            patterns.append(repeated("(?:xy|x", n) + repeated(")", n))
        }
        patterns.append(repeated("(?:", 2000) + "a" + repeated(")", 2000))  // groups alone add no level
        // Compiled size: 3,355,443 instructions at most.
        for n in [3300, 3400] {
            patterns.append("(?:" + repeated("a", n) + "){1000}")
            patterns.append("(?:" + repeated("ab|", n / 3) + "b){1000}")
            patterns.append(repeated("x{1000}", n / 1000 + 1))
        }
        // Runes in character classes: 33,554,432 at most; each \pL adds over a thousand.
        patterns.append(repeated("\\pL", 25_000))
        patterns.append(repeated("\\pL", 27_000))
        var cases = patterns.map { Array($0.utf8) }
        // Not UTF-8.
        cases += [[0xff], Array("a".utf8) + [0xc3], [0xed, 0xa0, 0x80], Array("(?P<".utf8) + [0xff] + Array(">x)".utf8),
                  Array("\\p{".utf8) + [0xff] + Array("}".utf8), Array("\\Q".utf8) + [0xff] + Array("\\Eb".utf8),
                  Array("[".utf8) + [0xfe] + Array("]".utf8), [0xc3, 0xa9], Array("\\".utf8) + [0xe2, 0x82],
                  Array("(?i".utf8) + [0x80] + Array(")".utf8), Array("\\x{".utf8) + [0xc0, 0x80] + Array("}".utf8)]
        return cases
    }

    /// promtool's verdict per value: nil when accepted, else its message after `1:4: parse error: `
    /// (any other position is returned whole, and fails the comparison).
    static func promtool(_ cases: [Case]) async throws -> [String?] {
        let directory = NSTemporaryDirectory() + "meshwatchd-regex-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var file = "groups:\n- name: regex\n  rules:\n"
        for (index, value) in cases.enumerated() {
            let expression = "up{a=~\(value.promQL)}"
            file += "  - record: r\(index)\n    expr: '\(expression.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        try file.write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
        let (_, output) = try await ChildProcess.run("/usr/bin/promtool", ["check", "rules", directory + "/rules.yml"],
                                                     limit: 100_000_000)
        var verdicts = [String?](repeating: nil, count: cases.count)
        for line in output.split(separator: "\n") {
            guard let rule = line.firstMatch(of: /"r(\d+)": could not parse expression: (.*)$/), let index = Int(rule.1) else { continue }
            let message = String(rule.2)
            verdicts[index] = message.hasPrefix("1:4: parse error: ") ? String(message.dropFirst("1:4: parse error: ".count)) : message
        }
        return verdicts
    }

    @Test("the same verdict and message as promtool for every pattern of the corpus")
    func sameAsPromtool() async throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 150, "\(corpus.count) patterns")
        let cases = corpus.map { Case(bytes: Array($0.utf8)) } + Self.generated().map { Case(bytes: $0) }
        let verdicts = try await Self.promtool(cases)
        var disagreements: [String] = []
        for (index, (value, verdict)) in zip(cases, verdicts).enumerated() {
            // The corpus's patterns go through the String entry point, the generated ones through bytes.
            let ours = index < corpus.count ? RegexSyntax.error(corpus[index]) : RegexSyntax.error(utf8: value.bytes)
            if ours != verdict {
                disagreements.append("\(value.label)\n  promtool:   \(verdict ?? "accepted")\n  meshwatchd: \(ours ?? "accepted")")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(cases.count):\n\(disagreements.joined(separator: "\n"))")
        // Every error Go can report through promtool comes up, several times (a trailing backslash
        // cannot: Prometheus parses the value inside ^(?:…)$ first, where a last \ escapes the `)`).
        let expected = ["missing closing )", "unexpected )", "missing closing ]", "missing argument to repetition operator",
                        "invalid nested repetition operator", "invalid repeat count", "invalid escape sequence",
                        "invalid named capture", "invalid or unsupported Perl syntax", "invalid character class range",
                        "invalid UTF-8", "expression nests too deeply", "regexp/syntax: internal error"]
        for code in expected {
            let count = verdicts.filter { $0?.hasPrefix("error parsing regexp: \(code): ") == true }.count
            #expect(count >= 2, "\(code): \(count)")
        }
        #expect(verdicts.filter { $0 == nil }.count >= 100)
    }

    @Test("what Prometheus reports for the examples of the issue")
    func examples() {
        #expect(RegexSyntax.error("(") == "error parsing regexp: missing closing ): `^(?:()$`")
        #expect(RegexSyntax.error("a**") == "error parsing regexp: invalid nested repetition operator: `**`")
        #expect(RegexSyntax.error("[z-a]") == "error parsing regexp: invalid character class range: `z-a`")
        #expect(RegexSyntax.error("\\8") == "error parsing regexp: invalid escape sequence: `\\8`")
        #expect(RegexSyntax.error("(?<n>x)") == "error parsing regexp: invalid or unsupported Perl syntax: `(?<`")
        #expect(RegexSyntax.error("x{2,1}") == "error parsing regexp: invalid repeat count: `{2,1}`")
        #expect(RegexSyntax.error("x{1001}") == "error parsing regexp: invalid repeat count: `{1001}`")
        #expect(RegexSyntax.error("a)") == "error parsing regexp: unexpected ): `^(?:a))$`")
        // Balanced inside ^(?:…)$ but not alone: the second parse, of the bare value, reports it.
        #expect(RegexSyntax.error("a)|(b") == "error parsing regexp: unexpected ): `a)|(b`")
        #expect(RegexSyntax.error("\\p{Greek}+|[[:alpha:]]{2,5}|(?P<x>y)") == nil)
    }
}
