/// Go 1.19 regexp/syntax's parser, continued: runes, UTF-8 and class arithmetic on sorted (lo, hi) pairs.
extension RegexParser {
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
