/// Go 1.19 regexp/syntax's parser, continued: the main loop: operators, groups, flags, repeats and escapes.
extension RegexParser {
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
}
