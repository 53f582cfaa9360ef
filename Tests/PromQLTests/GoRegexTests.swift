@testable import PromQL
import Testing

/// The matcher behind the templates' `match` and `reReplaceAll`: Go's semantics (the cases in
/// conformance/cases/87 check them against promtool), in time linear in the text.
@Suite("GoRegex: Go's regexp, linear in the text")
struct GoRegexTests {
    @Test("patterns that backtracking engines take exponential time on finish on 20,000-character label values (a backtracking engine never would)", .timeLimit(.minutes(1)))
    func noCatastrophicBacktracking() throws {
        let long = String(repeating: "a", count: 20_000) + "b"
        #expect(try GoRegex("^(a|a)*$").matches(long) == false)
        #expect(try GoRegex("(a+a+)+c").matches(long) == false)
        #expect(try GoRegex("(a*)*b").matches(long) == true)
        #expect(try GoRegex("a{0,100}a{0,100}b").matches(long) == true)
        #expect(try GoRegex("(a|aa)+$").replaceAll(long, with: "x") == long)
    }

    @Test("submatches, leftmost-first: the first alternative that matches wins, as Perl and Go choose")
    func submatches() throws {
        let regex = try GoRegex("(?P<user>[a-z]+)@(?P<host>[a-z.]+)|(x)")
        let input = Array("mail ada@example.org now".unicodeScalars)
        let slots = try #require(regex.match(input))
        #expect(Array(slots[0..<6]) == [5, 20, 5, 8, 9, 20])
        #expect(slots[6] == -1 && slots[7] == -1)
        #expect(regex.groupNames == ["", "user", "host", ""])
        #expect(regex.replaceAll("ada@example.org", with: "${host}/$user/$3/$$") == "example.org/ada//$")
    }

    @Test("a pattern Go refuses is refused with Go's text")
    func errors() {
        for (pattern, text) in [("(", "missing closing ): `(`"), ("a**", "invalid nested repetition operator: `**`"),
                                ("\\Z", "invalid escape sequence: `\\Z`"), ("[z-a]", "invalid character class range: `z-a`")] {
            #expect(throws: GoRegex.CompileError.self) { try GoRegex(pattern) }
            #expect((try? GoRegex(pattern)) == nil)
            do { _ = try GoRegex(pattern) } catch { #expect(error.description == "error parsing regexp: " + text) }
        }
    }
}
