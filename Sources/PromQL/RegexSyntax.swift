/// Whether Prometheus 2.42 accepts a regular expression of a `=~` / `!~` label matcher, and if not,
/// the error it reports, to the byte.
///
/// Prometheus 2.42 (`labels.NewFastRegexMatcher`) compiles `^(?:` + value + `)$` and then parses the
/// bare value, both with Go's regexp/syntax in Perl mode (Go 1.19.8, as vendored by grafana/regexp),
/// and reports the first error. This is that parser, followed step by step: the same parse stack,
/// the same incremental literal concatenation, alternation factoring and character-class merging,
/// so that the limits Go checks while parsing (nesting height 1000, compiled size 3,355,443
/// instructions, 32M runes in character classes, reported as `expression nests too deeply` and
/// `regexp/syntax: internal error`) trip on the same patterns. Unicode classes use Go 1.19's tables
/// (Unicode 13.0.0, `RegexSyntax+Unicode.swift`: `\p{Vithkuqi}`, of Unicode 14, is unknown to it).
///
/// Cost: as Go's, linear for ordinary patterns; like Go, quadratic for some pathological ones
/// (thousands of nested non-capturing groups, whose concatenations Go flattens level by level).
/// Recursion follows the parse tree, whose height the 1000 limit bounds.
enum RegexSyntax {
    /// nil when promtool 2.42 accepts `pattern` as a matcher regex, else Go's error text:
    /// ``error parsing regexp: <code>: `<expr>` ``.
    static func error(_ pattern: String) -> String? {
        error(utf8: Array(pattern.utf8))
    }

    /// The same for a value given as bytes (PromQL's `\xNN` escapes can make a label value that is
    /// not UTF-8; Go then reports `invalid UTF-8`, which a Swift `String` cannot carry). Go prints
    /// the offending bytes raw; the returned String has them decoded with replacement characters.
    static func error(utf8 pattern: [UInt8]) -> String? {
        do {
            var anchored = Array("^(?:".utf8)
            anchored += pattern
            anchored += Array(")$".utf8)
            var first = RegexParser(anchored)
            try first.parse()
            var bare = RegexParser(pattern)
            try bare.parse()
            return nil
        } catch {
            return error.description
        }
    }
}

/// One of Go's regexp/syntax errors: its code and the fragment of the expression it names.
struct RegexError: Error, CustomStringConvertible {
    var code: String
    var expr: ArraySlice<UInt8>

    var description: String {
        "error parsing regexp: \(code): `\(String(decoding: expr, as: UTF8.self))`"
    }

    static let internalError = "regexp/syntax: internal error"
    static let invalidCharClass = "invalid character class"
    static let invalidCharRange = "invalid character class range"
    static let invalidEscape = "invalid escape sequence"
    static let invalidNamedCapture = "invalid named capture"
    static let invalidPerlOp = "invalid or unsupported Perl syntax"
    static let invalidRepeatOp = "invalid nested repetition operator"
    static let invalidRepeatSize = "invalid repeat count"
    static let invalidUTF8 = "invalid UTF-8"
    static let missingBracket = "missing closing ]"
    static let missingParen = "missing closing )"
    static let missingRepeatArgument = "missing argument to repetition operator"
    static let trailingBackslash = "trailing backslash at end of expression"
    static let unexpectedParen = "unexpected )"
    static let nestingDepth = "expression nests too deeply"
}

/// A node of the parse tree (Go's `syntax.Regexp`), with Go's numbering of operators: the parser
/// compares them (`op >= pseudo`, the "more complex" of two classes).
final class RegexNode {
    enum Op {
        static let noMatch: UInt8 = 1, emptyMatch: UInt8 = 2, literal: UInt8 = 3, charClass: UInt8 = 4
        static let anyCharNotNL: UInt8 = 5, anyChar: UInt8 = 6, beginLine: UInt8 = 7, endLine: UInt8 = 8
        static let beginText: UInt8 = 9, endText: UInt8 = 10, wordBoundary: UInt8 = 11, noWordBoundary: UInt8 = 12
        static let capture: UInt8 = 13, star: UInt8 = 14, plus: UInt8 = 15, quest: UInt8 = 16, repeatOp: UInt8 = 17
        static let concat: UInt8 = 18, alternate: UInt8 = 19
        static let pseudo: UInt8 = 128, leftParen: UInt8 = 128, verticalBar: UInt8 = 129
    }

    var op: UInt8
    var flags: UInt16 = 0
    var sub: [RegexNode] = []
    var runes: [Int32] = []
    var min = 0
    var max = 0
    var cap = 0
    var name: ArraySlice<UInt8> = []
    var nextFree: RegexNode?

    init(_ op: UInt8) { self.op = op }

    /// Go's `*re = Regexp{}` when a freed node is handed out again.
    func reset(_ op: UInt8) {
        self.op = op
        flags = 0
        sub = []
        runes = []
        min = 0
        max = 0
        cap = 0
        name = []
        nextFree = nil
    }

    var isCharClass: Bool {
        op == Op.literal && runes.count == 1 || op == Op.charClass || op == Op.anyCharNotNL || op == Op.anyChar
    }

    func matches(_ r: Int32) -> Bool {
        switch op {
        case Op.literal: return runes.count == 1 && runes[0] == r
        case Op.charClass:
            var i = 0
            while i < runes.count {
                if runes[i] <= r && r <= runes[i + 1] { return true }
                i += 2
            }
            return false
        case Op.anyCharNotNL: return r != 0x0a
        case Op.anyChar: return true
        default: return false
        }
    }

    /// Go's `Regexp.Equal` (a literal's fold flag is not compared, as in Go).
    func equal(_ other: RegexNode?) -> Bool {
        guard let y = other else { return false }
        if op != y.op { return false }
        switch op {
        case Op.endText:
            return flags & RegexParser.wasDollar == y.flags & RegexParser.wasDollar
        case Op.literal, Op.charClass:
            return runes == y.runes
        case Op.alternate, Op.concat:
            guard sub.count == y.sub.count else { return false }
            for (a, b) in zip(sub, y.sub) where !a.equal(b) { return false }
            return true
        case Op.star, Op.plus, Op.quest:
            return flags & RegexParser.nonGreedy == y.flags & RegexParser.nonGreedy && sub[0].equal(y.sub[0])
        case Op.repeatOp:
            return flags & RegexParser.nonGreedy == y.flags & RegexParser.nonGreedy && min == y.min && max == y.max
                && sub[0].equal(y.sub[0])
        case Op.capture:
            return cap == y.cap && name == y.name && sub[0].equal(y.sub[0])
        default:
            return true
        }
    }
}

/// Go's regexp/syntax parser state, over the expression's bytes; positions are byte offsets.
struct RegexParser {
    typealias Op = RegexNode.Op

    // Parse flags (Go's syntax.Flags).
    static let foldCase: UInt16 = 1, literalFlag: UInt16 = 2, classNL: UInt16 = 4, dotNL: UInt16 = 8
    static let oneLine: UInt16 = 16, nonGreedy: UInt16 = 32, perlX: UInt16 = 64, unicodeGroups: UInt16 = 128
    static let wasDollar: UInt16 = 256
    static let perl: UInt16 = classNL | oneLine | perlX | unicodeGroups

    static let maxHeight = 1000
    static let maxSize: Int64 = (128 << 20) / 40
    static let maxRunes = (128 << 20) / 4
    static let maxRepeat = 1000
    static let maxRune: Int32 = 0x10FFFF
    static let runeError: Int32 = 0xFFFD
    static let minFold: Int32 = 0x41
    static let maxFold: Int32 = 0x1E943

    let s: [UInt8]
    var flags: UInt16 = RegexParser.perl
    var stack: [RegexNode] = []
    var free: RegexNode?
    var numCap = 0
    var numRegexp = 0
    var numRunes = 0
    var repeats: Int64 = 0
    var height: [ObjectIdentifier: Int]?
    var size: [ObjectIdentifier: Int64]?
    /// Every node allocated, kept alive so that an ObjectIdentifier always names one node, as a Go
    /// pointer does for the height and size maps.
    var allocated: [RegexNode] = []
    var tables: [String: [(Int32, Int32, Int32)]] = [:]
    var classes: [String: [Int32]] = [:]

    init(_ bytes: [UInt8]) { s = bytes }

    var end: Int { s.count }

    func fail(_ code: String, _ range: Range<Int>) -> RegexError { RegexError(code: code, expr: s[range]) }
}
