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
private final class RegexNode {
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
private struct RegexParser {
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

    // MARK: Nodes and the parse stack

    mutating func newNode(_ op: UInt8) -> RegexNode {
        if let node = free {
            free = node.nextFree
            node.reset(op)
            return node
        }
        let node = RegexNode(op)
        allocated.append(node)
        numRegexp += 1
        return node
    }

    mutating func reuse(_ node: RegexNode) {
        if height != nil { height![ObjectIdentifier(node)] = nil }
        node.nextFree = free
        free = node
    }

    mutating func checkLimits(_ node: RegexNode) throws(RegexError) {
        if numRunes > Self.maxRunes { throw fail(RegexError.internalError, 0..<end) }
        try checkSize(node)
        try checkHeight(node)
    }

    mutating func checkSize(_ node: RegexNode) throws(RegexError) {
        if size == nil {
            // Go starts computing sizes only once the node count times the product of every
            // repetition count seen (a node pushed again counts again) could exceed the limit.
            if repeats == 0 { repeats = 1 }
            if node.op == Op.repeatOp {
                var n = node.max
                if n == -1 { n = node.min }
                if n <= 0 { n = 1 }
                if Int64(n) > Self.maxSize / repeats { repeats = Self.maxSize } else { repeats *= Int64(n) }
            }
            if Int64(numRegexp) < Self.maxSize / repeats { return }
            size = [:]
            for entry in stack { try checkSize(entry) }
        }
        if calcSize(node, force: true) > Self.maxSize { throw fail(RegexError.internalError, 0..<end) }
    }

    mutating func calcSize(_ node: RegexNode, force: Bool) -> Int64 {
        if !force, let known = size?[ObjectIdentifier(node)] { return known }
        var total: Int64 = 0
        switch node.op {
        case Op.literal:
            total = Int64(node.runes.count)
        case Op.capture, Op.star:
            total = 2 &+ calcSize(node.sub[0], force: false)
        case Op.plus, Op.quest:
            total = 1 &+ calcSize(node.sub[0], force: false)
        case Op.concat:
            for sub in node.sub { total = total &+ calcSize(sub, force: false) }
        case Op.alternate:
            for sub in node.sub { total = total &+ calcSize(sub, force: false) }
            if node.sub.count > 1 { total = total &+ Int64(node.sub.count - 1) }
        case Op.repeatOp:
            let sub = calcSize(node.sub[0], force: false)
            if node.max == -1 {
                total = node.min == 0 ? 2 &+ sub : 1 &+ Int64(node.min) &* sub
            } else {
                total = Int64(node.max) &* sub &+ Int64(node.max - node.min)
            }
        default:
            break
        }
        if total < 1 { total = 1 }
        size?[ObjectIdentifier(node)] = total
        return total
    }

    mutating func checkHeight(_ node: RegexNode) throws(RegexError) {
        if numRegexp < Self.maxHeight { return }
        if height == nil {
            height = [:]
            for entry in stack { try checkHeight(entry) }
        }
        if calcHeight(node, force: true) > Self.maxHeight { throw fail(RegexError.nestingDepth, 0..<end) }
    }

    mutating func calcHeight(_ node: RegexNode, force: Bool) -> Int {
        if !force, let known = height?[ObjectIdentifier(node)] { return known }
        var h = 1
        for sub in node.sub {
            let hsub = calcHeight(sub, force: false)
            if h < 1 + hsub { h = 1 + hsub }
        }
        height?[ObjectIdentifier(node)] = h
        return h
    }

    /// Pushes `node`; a one-rune class becomes a literal (merged into the literal below when it can
    /// be, in which case nothing is pushed and nil returned).
    @discardableResult
    mutating func push(_ node: RegexNode) throws(RegexError) -> RegexNode? {
        numRunes += node.runes.count
        let r = node.runes
        if node.op == Op.charClass && r.count == 2 && r[0] == r[1] {
            if maybeConcat(r[0], flags & ~Self.foldCase) { return nil }
            node.op = Op.literal
            node.runes = [r[0]]
            node.flags = flags & ~Self.foldCase
        } else if node.op == Op.charClass && r.count == 4 && r[0] == r[1] && r[2] == r[3]
                    && Self.simpleFold(r[0]) == r[2] && Self.simpleFold(r[2]) == r[0]
                    || node.op == Op.charClass && r.count == 2 && r[0] + 1 == r[1]
                    && Self.simpleFold(r[0]) == r[1] && Self.simpleFold(r[1]) == r[0] {
            // A case-insensitive rune like [Aa].
            if maybeConcat(r[0], flags | Self.foldCase) { return nil }
            node.op = Op.literal
            node.runes = [r[0]]
            node.flags = flags | Self.foldCase
        } else {
            _ = maybeConcat(-1, 0)
        }
        stack.append(node)
        try checkLimits(node)
        return node
    }

    /// Merges the two literals on top of the stack, if they are; with `r >= 0`, reuses the upper
    /// one for `r` and reports true.
    mutating func maybeConcat(_ r: Int32, _ newFlags: UInt16) -> Bool {
        let n = stack.count
        if n < 2 { return false }
        let re1 = stack[n - 1], re2 = stack[n - 2]
        if re1.op != Op.literal || re2.op != Op.literal || re1.flags & Self.foldCase != re2.flags & Self.foldCase {
            return false
        }
        re2.runes += re1.runes
        if r >= 0 {
            re1.runes = [r]
            re1.flags = newFlags
            return true
        }
        stack.removeLast()
        reuse(re1)
        return false
    }

    mutating func literal(_ rune: Int32) throws(RegexError) {
        let node = newNode(Op.literal)
        node.flags = flags
        node.runes = [flags & Self.foldCase != 0 ? Self.minFoldRune(rune) : rune]
        try push(node)
    }

    @discardableResult
    mutating func op(_ op: UInt8) throws(RegexError) -> RegexNode {
        let node = newNode(op)
        node.flags = flags
        // Only a character class can vanish into a literal below it.
        return try push(node)!
    }

    /// Applies a repetition operator to the top of the stack; returns the position after it (after
    /// a `?` that makes it lazy).
    mutating func repeatOp(_ op: UInt8, min: Int, max: Int, before: Int, after start: Int,
                           lastRepeat: Int?) throws(RegexError) -> Int {
        var after = start
        var nodeFlags = flags
        if flags & Self.perlX != 0 {
            if after < end && s[after] == UInt8(ascii: "?") {
                after += 1
                nodeFlags ^= Self.nonGreedy
            }
            if let lastRepeat {
                // a** is an error, not a doubled star.
                throw fail(RegexError.invalidRepeatOp, lastRepeat..<after)
            }
        }
        let n = stack.count
        if n == 0 || stack[n - 1].op >= Op.pseudo {
            throw fail(RegexError.missingRepeatArgument, before..<after)
        }
        let sub = stack[n - 1]
        let node = newNode(op)
        node.min = min
        node.max = max
        node.flags = nodeFlags
        node.sub = [sub]
        stack[n - 1] = node
        try checkLimits(node)
        if op == Op.repeatOp && (min >= 2 || max >= 2) && !Self.repeatIsValid(node, Self.maxRepeat) {
            throw fail(RegexError.invalidRepeatSize, before..<after)
        }
        return after
    }

    /// Whether the repetitions nested in `node` make at most `n` copies of anything.
    static func repeatIsValid(_ node: RegexNode, _ limit: Int) -> Bool {
        var n = limit
        if node.op == Op.repeatOp {
            var m = node.max
            if m == 0 { return true }
            if m < 0 { m = node.min }
            if m > n { return false }
            if m > 0 { n /= m }
        }
        for sub in node.sub where !repeatIsValid(sub, n) { return false }
        return true
    }

    /// Replaces the top of the stack down to the topmost `|` or `(` with its concatenation.
    @discardableResult
    mutating func concat() throws(RegexError) -> RegexNode? {
        _ = maybeConcat(-1, 0)
        var i = stack.count
        while i > 0 && stack[i - 1].op < Op.pseudo { i -= 1 }
        let subs = Array(stack[i...])
        stack.removeSubrange(i...)
        if subs.isEmpty { return try push(newNode(Op.emptyMatch)) }
        return try push(try collapse(subs, Op.concat))
    }

    /// Replaces the top of the stack down to the topmost `(` with its alternation.
    @discardableResult
    mutating func alternate() throws(RegexError) -> RegexNode? {
        var i = stack.count
        while i > 0 && stack[i - 1].op < Op.pseudo { i -= 1 }
        let subs = Array(stack[i...])
        stack.removeSubrange(i...)
        if let last = subs.last { Self.cleanAlt(last) }
        if subs.isEmpty { return try push(newNode(Op.noMatch)) }
        return try push(try collapse(subs, Op.alternate))
    }

    static func cleanAlt(_ node: RegexNode) {
        guard node.op == Op.charClass else { return }
        node.runes = cleanClass(node.runes)
        if node.runes == [0, maxRune] {
            node.runes = []
            node.op = Op.anyChar
        } else if node.runes == [0, 0x09, 0x0b, maxRune] {
            node.runes = []
            node.op = Op.anyCharNotNL
        }
    }

    /// `op` applied to `subs`, flattening nested nodes of the same op; alternations are factored.
    mutating func collapse(_ subs: [RegexNode], _ op: UInt8) throws(RegexError) -> RegexNode {
        if subs.count == 1 { return subs[0] }
        var node = newNode(op)
        for sub in subs {
            if sub.op == op {
                node.sub += sub.sub
                reuse(sub)
            } else {
                node.sub.append(sub)
            }
        }
        if op == Op.alternate {
            node.sub = try factor(node.sub)
            if node.sub.count == 1 {
                let old = node
                node = node.sub[0]
                reuse(old)
            }
        }
        return node
    }

    /// Go's four rounds of alternation simplification: common literal prefixes, common leading
    /// char classes (or fixed repeats of one), runs of chars merged into a class, runs of empties.
    mutating func factor(_ input: [RegexNode]) throws(RegexError) -> [RegexNode] {
        var sub = input
        if sub.count < 2 { return sub }

        // Round 1: common literal prefixes.
        var str: [Int32] = []
        var strFlags: UInt16 = 0
        var start = 0
        var out: [RegexNode] = []
        for i in 0...sub.count {
            var istr: [Int32] = []
            var iflags: UInt16 = 0
            if i < sub.count {
                (istr, iflags) = Self.leadingString(sub[i])
                if iflags == strFlags {
                    var same = 0
                    while same < str.count && same < istr.count && str[same] == istr[same] { same += 1 }
                    if same > 0 {
                        str.removeSubrange(same...)
                        continue
                    }
                }
            }
            if i == start {
            } else if i == start + 1 {
                out.append(sub[start])
            } else {
                let prefix = newNode(Op.literal)
                prefix.flags = strFlags
                prefix.runes = str
                for j in start..<i {
                    sub[j] = removeLeadingString(sub[j], str.count)
                    try checkLimits(sub[j])
                }
                let suffix = try collapse(Array(sub[start..<i]), Op.alternate)
                let node = newNode(Op.concat)
                node.sub = [prefix, suffix]
                out.append(node)
            }
            start = i
            str = istr
            strFlags = iflags
        }
        sub = out

        // Round 2: a common leading char class, or fixed repeat of one.
        start = 0
        out = []
        var first: RegexNode?
        for i in 0...sub.count {
            var ifirst: RegexNode?
            if i < sub.count {
                ifirst = Self.leadingRegexp(sub[i])
                if let first, first.equal(ifirst),
                   first.isCharClass || (first.op == Op.repeatOp && first.min == first.max && first.sub[0].isCharClass) {
                    continue
                }
            }
            if i == start {
            } else if i == start + 1 {
                out.append(sub[start])
            } else {
                let prefix = first!
                for j in start..<i {
                    sub[j] = removeLeadingRegexp(sub[j], reuse: j != start)
                    try checkLimits(sub[j])
                }
                let suffix = try collapse(Array(sub[start..<i]), Op.alternate)
                let node = newNode(Op.concat)
                node.sub = [prefix, suffix]
                out.append(node)
            }
            start = i
            first = ifirst
        }
        sub = out

        // Round 3: runs of single chars and classes become one class.
        start = 0
        out = []
        for i in 0...sub.count {
            if i < sub.count && sub[i].isCharClass { continue }
            if i == start {
            } else if i == start + 1 {
                out.append(sub[start])
            } else {
                var most = start
                for j in (start + 1)..<i {
                    if sub[most].op < sub[j].op || sub[most].op == sub[j].op && sub[most].runes.count < sub[j].runes.count {
                        most = j
                    }
                }
                sub.swapAt(start, most)
                for j in (start + 1)..<i {
                    Self.mergeCharClass(sub[start], sub[j])
                    reuse(sub[j])
                }
                Self.cleanAlt(sub[start])
                out.append(sub[start])
            }
            if i < sub.count { out.append(sub[i]) }
            start = i + 1
        }
        sub = out

        // Round 4: runs of empty matches become one.
        out = []
        for i in sub.indices {
            if i + 1 < sub.count && sub[i].op == Op.emptyMatch && sub[i + 1].op == Op.emptyMatch { continue }
            out.append(sub[i])
        }
        return out
    }

    static func leadingString(_ node: RegexNode) -> ([Int32], UInt16) {
        var re = node
        if re.op == Op.concat && !re.sub.isEmpty { re = re.sub[0] }
        if re.op != Op.literal { return ([], 0) }
        return (re.runes, re.flags & foldCase)
    }

    mutating func removeLeadingString(_ node: RegexNode, _ n: Int) -> RegexNode {
        if node.op == Op.concat && !node.sub.isEmpty {
            let sub = removeLeadingString(node.sub[0], n)
            node.sub[0] = sub
            if sub.op == Op.emptyMatch {
                reuse(sub)
                switch node.sub.count {
                case 0, 1:
                    node.op = Op.emptyMatch
                    node.sub = []
                case 2:
                    let replacement = node.sub[1]
                    reuse(node)
                    return replacement
                default:
                    node.sub.removeFirst()
                }
            }
            return node
        }
        if node.op == Op.literal {
            node.runes.removeFirst(n)
            if node.runes.isEmpty { node.op = Op.emptyMatch }
        }
        return node
    }

    static func leadingRegexp(_ node: RegexNode) -> RegexNode? {
        if node.op == Op.emptyMatch { return nil }
        if node.op == Op.concat && !node.sub.isEmpty {
            let sub = node.sub[0]
            return sub.op == Op.emptyMatch ? nil : sub
        }
        return node
    }

    mutating func removeLeadingRegexp(_ node: RegexNode, reuse reuseRemoved: Bool) -> RegexNode {
        if node.op == Op.concat && !node.sub.isEmpty {
            if reuseRemoved { reuse(node.sub[0]) }
            node.sub.removeFirst()
            switch node.sub.count {
            case 0:
                node.op = Op.emptyMatch
                node.sub = []
            case 1:
                let replacement = node.sub[0]
                reuse(node)
                return replacement
            default:
                break
            }
            return node
        }
        if reuseRemoved { reuse(node) }
        return newNode(Op.emptyMatch)
    }

    /// dst = dst|src; dst is the more complex of the two.
    static func mergeCharClass(_ dst: RegexNode, _ src: RegexNode) {
        switch dst.op {
        case Op.anyChar:
            break
        case Op.anyCharNotNL:
            if src.matches(0x0a) { dst.op = Op.anyChar }
        case Op.charClass:
            if src.op == Op.literal {
                dst.runes = appendLiteral(dst.runes, src.runes[0], src.flags)
            } else {
                dst.runes = appendClass(dst.runes, src.runes)
            }
        case Op.literal:
            if src.runes[0] == dst.runes[0] && src.flags == dst.flags { break }
            dst.op = Op.charClass
            let lit = dst.runes[0]
            dst.runes = appendLiteral([], lit, dst.flags)
            dst.runes = appendLiteral(dst.runes, src.runes[0], src.flags)
        default:
            break
        }
    }

    /// With a `|` below the top of the stack, moves the top below it (merging two chars or classes
    /// around it into one class).
    mutating func swapVerticalBar() -> Bool {
        let n = stack.count
        if n >= 3 && stack[n - 2].op == Op.verticalBar && stack[n - 1].isCharClass && stack[n - 3].isCharClass {
            var re1 = stack[n - 1], re3 = stack[n - 3]
            if re1.op > re3.op {
                swap(&re1, &re3)
                stack[n - 3] = re3
            }
            Self.mergeCharClass(re3, re1)
            reuse(re1)
            stack.removeLast()
            return true
        }
        if n >= 2 {
            let re1 = stack[n - 1], re2 = stack[n - 2]
            if re2.op == Op.verticalBar {
                if n >= 3 { Self.cleanAlt(stack[n - 3]) }
                stack[n - 2] = re1
                stack[n - 1] = re2
                return true
            }
        }
        return false
    }

    mutating func parseVerticalBar() throws(RegexError) {
        try concat()
        if !swapVerticalBar() { try op(Op.verticalBar) }
    }

    mutating func parseRightParen() throws(RegexError) {
        try concat()
        if swapVerticalBar() { stack.removeLast() }
        try alternate()
        let n = stack.count
        if n < 2 { throw fail(RegexError.unexpectedParen, 0..<end) }
        let re1 = stack[n - 1], re2 = stack[n - 2]
        stack.removeLast(2)
        if re2.op != Op.leftParen { throw fail(RegexError.unexpectedParen, 0..<end) }
        flags = re2.flags
        if re2.cap == 0 {
            try push(re1)
        } else {
            re2.op = Op.capture
            re2.sub = [re1]
            try push(re2)
        }
    }

    // MARK: The main loop

    mutating func parse() throws(RegexError) {
        var t = 0
        var lastRepeat: Int?
        while t < end {
            var repeatStart: Int?
            switch s[t] {
            case UInt8(ascii: "("):
                if flags & Self.perlX != 0 && t + 1 < end && s[t + 1] == UInt8(ascii: "?") {
                    t = try parsePerlFlags(t)
                    break
                }
                numCap += 1
                try op(Op.leftParen).cap = numCap
                t += 1
            case UInt8(ascii: "|"):
                try parseVerticalBar()
                t += 1
            case UInt8(ascii: ")"):
                try parseRightParen()
                t += 1
            case UInt8(ascii: "^"):
                try op(flags & Self.oneLine != 0 ? Op.beginText : Op.beginLine)
                t += 1
            case UInt8(ascii: "$"):
                if flags & Self.oneLine != 0 {
                    try op(Op.endText).flags |= Self.wasDollar
                } else {
                    try op(Op.endLine)
                }
                t += 1
            case UInt8(ascii: "."):
                try op(flags & Self.dotNL != 0 ? Op.anyChar : Op.anyCharNotNL)
                t += 1
            case UInt8(ascii: "["):
                t = try parseClass(t)
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"):
                let kind = s[t] == UInt8(ascii: "*") ? Op.star : s[t] == UInt8(ascii: "+") ? Op.plus : Op.quest
                let before = t
                t = try repeatOp(kind, min: 0, max: 0, before: before, after: t + 1, lastRepeat: lastRepeat)
                repeatStart = before
            case UInt8(ascii: "{"):
                let before = t
                guard case let (min, max, after)? = parseRepeat(t) else {
                    // Not a repetition: { is a literal.
                    try literal(Int32(UInt8(ascii: "{")))
                    t += 1
                    break
                }
                if min < 0 || min > Self.maxRepeat || max > Self.maxRepeat || max >= 0 && min > max {
                    throw fail(RegexError.invalidRepeatSize, before..<after)
                }
                t = try repeatOp(Op.repeatOp, min: min, max: max, before: before, after: after, lastRepeat: lastRepeat)
                repeatStart = before
            case UInt8(ascii: "\\"):
                t = try parseBackslash(t)
            default:
                let (c, next) = try nextRune(t)
                try literal(c)
                t = next
            }
            lastRepeat = repeatStart
        }
        try concat()
        if swapVerticalBar() { stack.removeLast() }
        try alternate()
        if stack.count != 1 { throw fail(RegexError.missingParen, 0..<end) }
    }

    /// A backslash outside a class: an assertion, \Q...\E, a class (\d, \pL) or one escaped rune.
    mutating func parseBackslash(_ t: Int) throws(RegexError) -> Int {
        if flags & Self.perlX != 0 && t + 1 < end {
            switch s[t + 1] {
            case UInt8(ascii: "A"):
                try op(Op.beginText)
                return t + 2
            case UInt8(ascii: "b"):
                try op(Op.wordBoundary)
                return t + 2
            case UInt8(ascii: "B"):
                try op(Op.noWordBoundary)
                return t + 2
            case UInt8(ascii: "C"):
                // Any byte: not supported.
                throw fail(RegexError.invalidEscape, t..<t + 2)
            case UInt8(ascii: "Q"):
                // \Q...\E: literal text up to \E or the end.
                var litEnd = end
                var rest = end
                var k = t + 2
                while k + 1 < end {
                    if s[k] == UInt8(ascii: "\\") && s[k + 1] == UInt8(ascii: "E") {
                        litEnd = k
                        rest = k + 2
                        break
                    }
                    k += 1
                }
                var i = t + 2
                while i < litEnd {
                    let (c, next) = try nextRune(i, limit: litEnd)
                    try literal(c)
                    i = next
                }
                return rest
            case UInt8(ascii: "z"):
                try op(Op.endText)
                return t + 2
            default:
                break
            }
        }
        let node = newNode(Op.charClass)
        node.flags = flags
        if t + 1 < end && (s[t + 1] == UInt8(ascii: "p") || s[t + 1] == UInt8(ascii: "P")) {
            if case let (runes, rest)? = try parseUnicodeClass(t, []) {
                node.runes = runes
                try push(node)
                return rest
            }
        }
        if case let (runes, rest)? = parsePerlClassEscape(t, []) {
            node.runes = runes
            try push(node)
            return rest
        }
        reuse(node)
        let (c, rest) = try parseEscape(t)
        try literal(c)
        return rest
    }

    /// `{n}`, `{n,}`, `{n,m}` at `t`: (min, max, position after), max -1 for no limit, min -1 for
    /// numbers too large; nil when the text is not of that form.
    func parseRepeat(_ start: Int) -> (Int, Int, Int)? {
        var t = start
        guard t < end && s[t] == UInt8(ascii: "{") else { return nil }
        t += 1
        guard case (var min, let next)? = parseInt(t) else { return nil }
        t = next
        guard t < end else { return nil }
        var max: Int
        if s[t] != UInt8(ascii: ",") {
            max = min
        } else {
            t += 1
            guard t < end else { return nil }
            if s[t] == UInt8(ascii: "}") {
                max = -1
            } else {
                guard case let (value, after)? = parseInt(t) else { return nil }
                max = value
                t = after
                if max < 0 { min = -1 }
            }
        }
        guard t < end && s[t] == UInt8(ascii: "}") else { return nil }
        return (min, max, t + 1)
    }

    /// A decimal number without leading zeros; -1 when it is 10^8 or more.
    func parseInt(_ start: Int) -> (Int, Int)? {
        func digit(_ i: Int) -> Bool { i < end && s[i] >= UInt8(ascii: "0") && s[i] <= UInt8(ascii: "9") }
        guard digit(start) else { return nil }
        if digit(start + 1) && s[start] == UInt8(ascii: "0") { return nil }
        var t = start
        while digit(t) { t += 1 }
        var n = 0
        for i in start..<t {
            if n >= 100_000_000 {
                n = -1
                break
            }
            n = n * 10 + Int(s[i] - UInt8(ascii: "0"))
        }
        return (n, t)
    }

    /// `(?` at `start`: a named group `(?P<name>`, a flag change `(?i)` or a group `(?i:`.
    mutating func parsePerlFlags(_ start: Int) throws(RegexError) -> Int {
        if end - start > 4 && s[start + 2] == UInt8(ascii: "P") && s[start + 3] == UInt8(ascii: "<") {
            guard let close = s[start...].firstIndex(of: UInt8(ascii: ">")) else {
                try checkUTF8(start..<end)
                throw fail(RegexError.invalidNamedCapture, start..<end)
            }
            let name = s[(start + 4)..<close]
            try checkUTF8(name.indices)
            if name.isEmpty || !name.allSatisfy({ $0 == UInt8(ascii: "_") || Self.isAlnum(Int32($0)) }) {
                throw fail(RegexError.invalidNamedCapture, start..<close + 1)
            }
            numCap += 1
            let node = try op(Op.leftParen)
            node.cap = numCap
            node.name = name
            return close + 1
        }
        var t = start + 2
        var newFlags = flags
        var sign = 1
        var sawFlag = false
        loop: while t < end {
            let (c, next) = try nextRune(t)
            t = next
            switch c {
            case Int32(UInt8(ascii: "i")):
                newFlags |= Self.foldCase
                sawFlag = true
            case Int32(UInt8(ascii: "m")):
                newFlags &= ~Self.oneLine
                sawFlag = true
            case Int32(UInt8(ascii: "s")):
                newFlags |= Self.dotNL
                sawFlag = true
            case Int32(UInt8(ascii: "U")):
                newFlags |= Self.nonGreedy
                sawFlag = true
            case Int32(UInt8(ascii: "-")):
                if sign < 0 { break loop }
                sign = -1
                // Inverted, so that the flags above clear instead of set; inverted back at the end.
                newFlags = ~newFlags
                sawFlag = false
            case Int32(UInt8(ascii: ":")), Int32(UInt8(ascii: ")")):
                if sign < 0 {
                    if !sawFlag { break loop }
                    newFlags = ~newFlags
                }
                if c == Int32(UInt8(ascii: ":")) { try op(Op.leftParen) }
                flags = newFlags
                return t
            default:
                break loop
            }
        }
        throw fail(RegexError.invalidPerlOp, start..<t)
    }

    static func isAlnum(_ c: Int32) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c)
    }

    static func unhex(_ c: Int32) -> Int32 {
        if (0x30...0x39).contains(c) { return c - 0x30 }
        if (0x61...0x66).contains(c) { return c - 0x61 + 10 }
        if (0x41...0x46).contains(c) { return c - 0x41 + 10 }
        return -1
    }

    /// One escaped rune at `start` (a backslash): returns it and the position after it.
    func parseEscape(_ start: Int) throws(RegexError) -> (Int32, Int) {
        var t = start + 1
        if t == end { throw RegexError(code: RegexError.trailingBackslash, expr: []) }
        var c: Int32
        (c, t) = try nextRune(t)
        escape: switch c {
        case 0x31...0x37, 0x30:
            // \1-\7 alone would be a backreference: not supported. \0 and \1-\7 followed by an octal
            // digit take up to three octal digits.
            if c != 0x30 && (t == end || s[t] < UInt8(ascii: "0") || s[t] > UInt8(ascii: "7")) { break escape }
            var r = c - 0x30
            for _ in 1..<3 {
                if t == end || s[t] < UInt8(ascii: "0") || s[t] > UInt8(ascii: "7") { break }
                r = r * 8 + Int32(s[t]) - 0x30
                t += 1
            }
            return (r, t)
        case Int32(UInt8(ascii: "x")):
            if t == end { break escape }
            (c, t) = try nextRune(t)
            if c == Int32(UInt8(ascii: "{")) {
                // Any number of hex digits in braces, at least one, at most U+10FFFF.
                var nhex = 0
                var r: Int32 = 0
                while true {
                    if t == end { break escape }
                    (c, t) = try nextRune(t)
                    if c == Int32(UInt8(ascii: "}")) { break }
                    let v = Self.unhex(c)
                    if v < 0 { break escape }
                    r = r * 16 + v
                    if r > Self.maxRune { break escape }
                    nhex += 1
                }
                if nhex == 0 { break escape }
                return (r, t)
            }
            let x = Self.unhex(c)
            (c, t) = try nextRune(t)
            let y = Self.unhex(c)
            if x < 0 || y < 0 { break escape }
            return (x * 16 + y, t)
        case Int32(UInt8(ascii: "a")): return (0x07, t)
        case Int32(UInt8(ascii: "f")): return (0x0c, t)
        case Int32(UInt8(ascii: "n")): return (0x0a, t)
        case Int32(UInt8(ascii: "r")): return (0x0d, t)
        case Int32(UInt8(ascii: "t")): return (0x09, t)
        case Int32(UInt8(ascii: "v")): return (0x0b, t)
        default:
            // Escaped ASCII punctuation is itself; letters, other digits and non-ASCII are errors.
            if c < 0x80 && !Self.isAlnum(c) { return (c, t) }
        }
        throw fail(RegexError.invalidEscape, start..<t)
    }

    // MARK: Character classes

    /// `[...]` at `start`: pushes the class, returns the position after `]`.
    mutating func parseClass(_ start: Int) throws(RegexError) -> Int {
        var t = start + 1
        let node = newNode(Op.charClass)
        node.flags = flags
        var sign = 1
        var cls: [Int32] = []
        if t < end && s[t] == UInt8(ascii: "^") {
            sign = -1
            t += 1
            // A class that does not match \n gets it here, so that negation removes it.
            if flags & Self.classNL == 0 { cls += [0x0a, 0x0a] }
        }
        var first = true
        while t == end || s[t] != UInt8(ascii: "]") || first {
            // (POSIX mode's check of '-' does not apply: Perl mode allows it anywhere.)
            first = false
            if end - t > 2 && s[t] == UInt8(ascii: "[") && s[t + 1] == UInt8(ascii: ":") {
                if case let (named, next)? = try parseNamedClass(t, cls) {
                    cls = named
                    t = next
                    continue
                }
            }
            if case let (unicode, next)? = try parseUnicodeClass(t, cls) {
                cls = unicode
                t = next
                continue
            }
            if case let (perl, next)? = parsePerlClassEscape(t, cls) {
                cls = perl
                t = next
                continue
            }
            let range = t
            var lo: Int32
            (lo, t) = try parseClassChar(t, classStart: start)
            var hi = lo
            // [a-] means a or -.
            if end - t >= 2 && s[t] == UInt8(ascii: "-") && s[t + 1] != UInt8(ascii: "]") {
                t += 1
                (hi, t) = try parseClassChar(t, classStart: start)
                if hi < lo { throw fail(RegexError.invalidCharRange, range..<t) }
            }
            cls = flags & Self.foldCase == 0 ? Self.appendRange(cls, lo, hi) : Self.appendFoldedRange(cls, lo, hi)
        }
        t += 1
        cls = Self.cleanClass(cls)
        if sign < 0 { cls = Self.negateClass(cls) }
        node.runes = cls
        try push(node)
        return t
    }

    func parseClassChar(_ t: Int, classStart: Int) throws(RegexError) -> (Int32, Int) {
        if t == end { throw fail(RegexError.missingBracket, classStart..<end) }
        if s[t] == UInt8(ascii: "\\") { return try parseEscape(t) }
        return try nextRune(t)
    }

    static let perlGroups: [String: (Int, [Int32])] = [
        "\\d": (1, digits), "\\D": (-1, digits),
        "\\s": (1, [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20]), "\\S": (-1, [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20]),
        "\\w": (1, word), "\\W": (-1, word),
    ]
    static let digits: [Int32] = [0x30, 0x39]
    static let word: [Int32] = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]
    static let posixClasses: [String: [Int32]] = [
        "alnum": [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
        "alpha": [0x41, 0x5a, 0x61, 0x7a],
        "ascii": [0x00, 0x7f],
        "blank": [0x09, 0x09, 0x20, 0x20],
        "cntrl": [0x00, 0x1f, 0x7f, 0x7f],
        "digit": [0x30, 0x39],
        "graph": [0x21, 0x7e],
        "lower": [0x61, 0x7a],
        "print": [0x20, 0x7e],
        "punct": [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
        "space": [0x09, 0x0d, 0x20, 0x20],
        "upper": [0x41, 0x5a],
        "word": word,
        "xdigit": [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
    ]

    /// \d \D \s \S \w \W at `t`, appended to `r`.
    func parsePerlClassEscape(_ t: Int, _ r: [Int32]) -> ([Int32], Int)? {
        guard flags & Self.perlX != 0 && end - t >= 2 && s[t] == UInt8(ascii: "\\") else { return nil }
        guard let group = Self.perlGroups[String(decoding: s[t..<t + 2], as: UTF8.self)] else { return nil }
        return (appendGroup(r, sign: group.0, group.1), t + 2)
    }

    /// `[:alpha:]` or `[:^alpha:]` at `t`, appended to `r`; nil when there is no `:]` further on.
    func parseNamedClass(_ t: Int, _ r: [Int32]) throws(RegexError) -> ([Int32], Int)? {
        guard end - t >= 2 && s[t] == UInt8(ascii: "[") && s[t + 1] == UInt8(ascii: ":") else { return nil }
        var i = t + 2
        while i + 1 < end && !(s[i] == UInt8(ascii: ":") && s[i + 1] == UInt8(ascii: "]")) { i += 1 }
        guard i + 1 < end else { return nil }
        let nameEnd = i + 2
        var inner = s[(t + 2)..<i]
        var sign = 1
        if inner.first == UInt8(ascii: "^") {
            sign = -1
            inner = inner.dropFirst()
        }
        guard let group = Self.posixClasses[String(decoding: inner, as: UTF8.self)],
              // The name must be ASCII as written: a name that only decodes to one must not match.
              inner.allSatisfy({ $0 < 0x80 }) else {
            throw fail(RegexError.invalidCharRange, t..<nameEnd)
        }
        return (appendGroup(r, sign: sign, group), nameEnd)
    }

    func appendGroup(_ r: [Int32], sign: Int, _ cls: [Int32]) -> [Int32] {
        var group = cls
        if flags & Self.foldCase != 0 {
            group = Self.cleanClass(Self.appendFoldedClass([], cls))
        }
        return sign < 0 ? Self.appendNegatedClass(r, group) : Self.appendClass(r, group)
    }

    /// `\pL`, `\p{Greek}`, `\PL`, `\p{^Greek}` at `t`, appended to `r`; nil when `t` is not `\p` / `\P`.
    mutating func parseUnicodeClass(_ t: Int, _ r: [Int32]) throws(RegexError) -> ([Int32], Int)? {
        guard flags & Self.unicodeGroups != 0 && end - t >= 2 && s[t] == UInt8(ascii: "\\")
                && (s[t + 1] == UInt8(ascii: "p") || s[t + 1] == UInt8(ascii: "P")) else { return nil }
        var sign = s[t + 1] == UInt8(ascii: "P") ? -1 : 1
        let (c, afterName) = try nextRune(t + 2)
        var seqEnd: Int
        var name: ArraySlice<UInt8>
        var rest: Int
        if c != Int32(UInt8(ascii: "{")) {
            // A one-letter name (at the end of the text, an empty one).
            seqEnd = afterName
            name = s[(t + 2)..<afterName]
            rest = afterName
        } else {
            // The name runs to the first } anywhere after.
            guard let close = s[t...].firstIndex(of: UInt8(ascii: "}")) else {
                try checkUTF8(t..<end)
                throw fail(RegexError.invalidCharRange, t..<end)
            }
            seqEnd = close + 1
            rest = close + 1
            name = s[(t + 3)..<close]
            try checkUTF8(name.indices)
        }
        if name.first == UInt8(ascii: "^") {
            sign = -sign
            name = name.dropFirst()
        }
        let key = String(decoding: name, as: UTF8.self)
        // Appended to nothing (always so outside brackets), the class depends on the name, the sign
        // and case folding only: \pL written 20,000 times is built once.
        let memoKey = "\(sign)\(flags & Self.foldCase)\(key)"
        if r.isEmpty, let known = classes[memoKey] { return (known, rest) }
        let table: [(Int32, Int32, Int32)]
        var fold: [(Int32, Int32, Int32)]?
        if key == "Any" {
            table = [(0, Self.maxRune, 1)]
            fold = table
        } else if let t = unicodeTable(key, "category", RegexSyntax.categoryTables) {
            table = t
            fold = unicodeTable(key, "fold category", RegexSyntax.foldCategoryTables)
        } else if let t = unicodeTable(key, "script", RegexSyntax.scriptTables) {
            table = t
            fold = unicodeTable(key, "fold script", RegexSyntax.foldScriptTables)
        } else {
            throw fail(RegexError.invalidCharRange, t..<seqEnd)
        }
        let result: [Int32]
        if flags & Self.foldCase == 0 || fold == nil {
            result = sign > 0 ? Self.appendTable(r, table) : Self.appendNegatedTable(r, table)
        } else {
            let merged = Self.cleanClass(Self.appendTable(Self.appendTable([], table), fold!))
            result = sign > 0 ? Self.appendClass(r, merged) : Self.appendNegatedClass(r, merged)
        }
        if r.isEmpty { classes[memoKey] = result }
        return (result, rest)
    }

    /// The named table as Go stores it: (lo, hi, stride), decoded once per parse.
    mutating func unicodeTable(_ name: String, _ kind: String, _ source: [String: String]) -> [(Int32, Int32, Int32)]? {
        guard let text = source[name] else { return nil }
        let key = kind + "/" + name
        if let known = tables[key] { return known }
        var table: [(Int32, Int32, Int32)] = []
        for entry in text.split(separator: " ") {
            let parts = entry.split(separator: ":")
            let bounds = parts[0].split(separator: "-")
            table.append((Int32(bounds[0], radix: 16)!, Int32(bounds[1], radix: 16)!,
                          parts.count > 1 ? Int32(parts[1], radix: 16)! : 1))
        }
        tables[key] = table
        return table
    }

    // MARK: Runes and UTF-8

    /// Go's utf8.DecodeRune: (RuneError, 1) for invalid bytes, (RuneError, 0) at the end.
    func decodeRune(_ i: Int, limit: Int) -> (Int32, Int) {
        if i >= limit { return (Self.runeError, 0) }
        let b0 = s[i]
        if b0 < 0x80 { return (Int32(b0), 1) }
        func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xbf) -> Int32? {
            guard i + k < limit, s[i + k] >= lo, s[i + k] <= hi else { return nil }
            return Int32(s[i + k] & 0x3f)
        }
        switch b0 {
        case 0xc2...0xdf:
            guard let c1 = cont(1) else { return (Self.runeError, 1) }
            return (Int32(b0 & 0x1f) << 6 | c1, 2)
        case 0xe0...0xef:
            let lo: UInt8 = b0 == 0xe0 ? 0xa0 : 0x80, hi: UInt8 = b0 == 0xed ? 0x9f : 0xbf
            guard let c1 = cont(1, lo, hi), let c2 = cont(2) else { return (Self.runeError, 1) }
            return (Int32(b0 & 0x0f) << 12 | c1 << 6 | c2, 3)
        case 0xf0...0xf4:
            let lo: UInt8 = b0 == 0xf0 ? 0x90 : 0x80, hi: UInt8 = b0 == 0xf4 ? 0x8f : 0xbf
            guard let c1 = cont(1, lo, hi), let c2 = cont(2), let c3 = cont(3) else { return (Self.runeError, 1) }
            return (Int32(b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3, 4)
        default:
            return (Self.runeError, 1)
        }
    }

    /// The rune at `i` and the position after it; `invalid UTF-8` names the text from `i` to `limit`.
    func nextRune(_ i: Int, limit: Int? = nil) throws(RegexError) -> (Int32, Int) {
        let limit = limit ?? end
        let (c, size) = decodeRune(i, limit: limit)
        if c == Self.runeError && size == 1 { throw fail(RegexError.invalidUTF8, i..<limit) }
        return (c, i + size)
    }

    func checkUTF8(_ range: Range<Int>) throws(RegexError) {
        var i = range.lowerBound
        while i < range.upperBound {
            let (c, size) = decodeRune(i, limit: range.upperBound)
            if c == Self.runeError && size == 1 { throw fail(RegexError.invalidUTF8, i..<range.upperBound) }
            i += size
        }
    }

    // MARK: Class arithmetic on sorted (lo, hi) pairs, as Go does it

    static let simpleFoldMap: [Int32: Int32] = {
        var map: [Int32: Int32] = [:]
        for pair in RegexSyntax.simpleFolds.split(separator: " ") {
            let parts = pair.split(separator: ":")
            map[Int32(parts[0], radix: 16)!] = Int32(parts[1], radix: 16)!
        }
        return map
    }()

    /// Go's unicode.SimpleFold: the next rune of `r`'s case-folding orbit.
    static func simpleFold(_ r: Int32) -> Int32 {
        simpleFoldMap[r] ?? r
    }

    static func minFoldRune(_ r: Int32) -> Int32 {
        if r < minFold || r > maxFold { return r }
        var least = r
        var f = simpleFold(r)
        while f != r {
            least = Swift.min(least, f)
            f = simpleFold(f)
        }
        return least
    }

    /// Sorts by lo (hi descending on ties), then merges overlapping and abutting ranges.
    static func cleanClass(_ input: [Int32]) -> [Int32] {
        if input.count < 2 { return input }
        var pairs: [(Int32, Int32)] = []
        pairs.reserveCapacity(input.count / 2)
        var i = 0
        while i + 1 < input.count {
            pairs.append((input[i], input[i + 1]))
            i += 2
        }
        pairs.sort { $0.0 < $1.0 || $0.0 == $1.0 && $0.1 > $1.1 }
        var r: [Int32] = [pairs[0].0, pairs[0].1]
        for (lo, hi) in pairs.dropFirst() {
            if lo <= r[r.count - 1] + 1 {
                if hi > r[r.count - 1] { r[r.count - 1] = hi }
                continue
            }
            r.append(lo)
            r.append(hi)
        }
        return r
    }

    static func appendLiteral(_ r: [Int32], _ x: Int32, _ flags: UInt16) -> [Int32] {
        flags & foldCase != 0 ? appendFoldedRange(r, x, x) : appendRange(r, x, x)
    }

    /// Appends lo-hi, widening the last or next-to-last range when it overlaps or abuts.
    static func appendRange(_ input: [Int32], _ lo: Int32, _ hi: Int32) -> [Int32] {
        var r = input
        appendRange(&r, lo, hi)
        return r
    }

    static func appendRange(_ r: inout [Int32], _ lo: Int32, _ hi: Int32) {
        let n = r.count
        var i = 2
        while i <= 4 && n >= i {
            let rlo = r[n - i], rhi = r[n - i + 1]
            if lo <= rhi + 1 && rlo <= hi + 1 {
                if lo < rlo { r[n - i] = lo }
                if hi > rhi { r[n - i + 1] = hi }
                return
            }
            i += 2
        }
        r.append(lo)
        r.append(hi)
    }

    static func appendFoldedRange(_ input: [Int32], _ low: Int32, _ high: Int32) -> [Int32] {
        var r = input
        var lo = low, hi = high
        if lo <= minFold && hi >= maxFold || hi < minFold || lo > maxFold {
            appendRange(&r, lo, hi)
            return r
        }
        if lo < minFold {
            appendRange(&r, lo, minFold - 1)
            lo = minFold
        }
        if hi > maxFold {
            appendRange(&r, maxFold + 1, hi)
            hi = maxFold
        }
        var c = lo
        while c <= hi {
            appendRange(&r, c, c)
            var f = simpleFold(c)
            while f != c {
                appendRange(&r, f, f)
                f = simpleFold(f)
            }
            c += 1
        }
        return r
    }

    static func appendClass(_ input: [Int32], _ x: [Int32]) -> [Int32] {
        var r = input
        var i = 0
        while i + 1 < x.count {
            appendRange(&r, x[i], x[i + 1])
            i += 2
        }
        return r
    }

    static func appendFoldedClass(_ input: [Int32], _ x: [Int32]) -> [Int32] {
        var r = input
        var i = 0
        while i + 1 < x.count {
            r = appendFoldedRange(r, x[i], x[i + 1])
            i += 2
        }
        return r
    }

    static func appendNegatedClass(_ input: [Int32], _ x: [Int32]) -> [Int32] {
        var r = input
        var nextLo: Int32 = 0
        var i = 0
        while i + 1 < x.count {
            if nextLo <= x[i] - 1 { appendRange(&r, nextLo, x[i] - 1) }
            nextLo = x[i + 1] + 1
            i += 2
        }
        if nextLo <= maxRune { appendRange(&r, nextLo, maxRune) }
        return r
    }

    static func appendTable(_ input: [Int32], _ table: [(Int32, Int32, Int32)]) -> [Int32] {
        var r = input
        for (lo, hi, stride) in table {
            if stride == 1 {
                appendRange(&r, lo, hi)
                continue
            }
            var c = lo
            while c <= hi {
                appendRange(&r, c, c)
                c += stride
            }
        }
        return r
    }

    static func appendNegatedTable(_ input: [Int32], _ table: [(Int32, Int32, Int32)]) -> [Int32] {
        var r = input
        var nextLo: Int32 = 0
        for (lo, hi, stride) in table {
            if stride == 1 {
                if nextLo <= lo - 1 { appendRange(&r, nextLo, lo - 1) }
                nextLo = hi + 1
                continue
            }
            var c = lo
            while c <= hi {
                if nextLo <= c - 1 { appendRange(&r, nextLo, c - 1) }
                nextLo = c + 1
                c += stride
            }
        }
        if nextLo <= maxRune { appendRange(&r, nextLo, maxRune) }
        return r
    }

    /// The complement of a clean class.
    static func negateClass(_ r: [Int32]) -> [Int32] {
        var out: [Int32] = []
        var nextLo: Int32 = 0
        var i = 0
        while i + 1 < r.count {
            if nextLo <= r[i] - 1 {
                out.append(nextLo)
                out.append(r[i] - 1)
            }
            nextLo = r[i + 1] + 1
            i += 2
        }
        if nextLo <= maxRune {
            out.append(nextLo)
            out.append(maxRune)
        }
        return out
    }
}
