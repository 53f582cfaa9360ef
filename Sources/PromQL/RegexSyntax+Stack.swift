/// Go 1.19 regexp/syntax's parser, continued: the parse stack: nodes, pushes, concatenation and alternation.
extension RegexParser {
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
}
