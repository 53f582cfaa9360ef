/// Go 1.19 regexp/syntax's parser, continued: character classes: [...], Perl, POSIX and Unicode classes.
extension RegexParser {
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
}
