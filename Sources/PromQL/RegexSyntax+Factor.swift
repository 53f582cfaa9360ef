/// Go 1.19 regexp/syntax's parser, continued: factoring alternations (common prefixes), as Go does before it checks sizes.
extension RegexParser {
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
}
