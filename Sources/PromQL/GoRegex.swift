/// A compiled Go regular expression (`regexp.Compile`: Perl syntax, leftmost-first matching),
/// for the template functions `match` and `reReplaceAll`. The pattern is parsed by the port of
/// Go's regexp/syntax (`RegexParser`), compiled to a Thompson program as Go's syntax.Compile
/// does, and run by a Pike VM: time linear in the text for any pattern, so a label value chosen
/// by whoever writes metrics cannot make a template run for long (a backtracking engine takes
/// exponential time on `(a|a)*$` against a long run of `a`s and one `b`).
public struct GoRegex: Sendable {
    /// Go's error text for a pattern that does not compile (`error parsing regexp: …`).
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    struct Inst: Sendable {
        enum Kind: Sendable { case rune, anyNotNL, any, split, jump, save, empty, match, fail, nop }
        var kind: Kind
        var out = -1
        /// A split's second (less preferred) branch.
        var arg = -1
        /// Ranges (lo, hi pairs) for `.rune`; a one-rune literal has one pair, folded when `fold`.
        var runes: [Int32] = []
        var fold = false
        /// The slot of `.save`, the assertions of `.empty`.
        var n = 0
    }

    // Empty-width assertions (Go's syntax.EmptyOp).
    static let beginLine = 1, endLine = 2, beginText = 4, endText = 8, wordBoundary = 16, noWordBoundary = 32

    let program: [Inst]
    let start: Int
    /// Capture groups, without the whole match.
    public let groupCount: Int
    /// Each group's name (`(?P<name>…)`), "" for the whole match and unnamed groups.
    public let groupNames: [String]

    public init(_ pattern: String) throws(CompileError) {
        var parser = RegexParser(Array(pattern.utf8))
        do { try parser.parse() } catch { throw CompileError(description: error.description) }
        guard parser.stack.count == 1 else { throw CompileError(description: "error parsing regexp: missing closing ): `\(pattern)`") }
        var compiler = Compiler()
        var names = [String](repeating: "", count: parser.numCap + 1)
        compiler.collectNames(parser.stack[0], into: &names)
        // The whole match is group 0: slots 0 and 1 around the expression.
        let open = compiler.emit(Inst(kind: .save, n: 0))
        let body = compiler.compile(parser.stack[0])
        compiler.patch(open, body.start)
        let close = compiler.emit(Inst(kind: .save, n: 1))
        compiler.patchAll(body.holes, close)
        let done = compiler.emit(Inst(kind: .match))
        compiler.patch(close, done)
        program = compiler.program
        start = open
        groupCount = parser.numCap
        groupNames = names
    }

    /// A place in the program waiting for its target: an instruction's `out`, or a split's `arg`.
    struct Hole { var index: Int; var isArg: Bool }
    /// A compiled piece: where it starts, what waits for the next piece, and whether it can match
    /// the empty string (Go compiles `x*` of such an `x` as `(x+)?`, golang.org/issue/46123).
    struct Fragment { var start: Int; var holes: [Hole]; var nullable = false }

    struct Compiler {
        typealias Op = RegexNode.Op
        var program: [Inst] = []

        mutating func emit(_ inst: Inst) -> Int {
            program.append(inst)
            return program.count - 1
        }

        mutating func patch(_ index: Int, _ target: Int) { program[index].out = target }

        mutating func patchAll(_ holes: [Hole], _ target: Int) {
            for hole in holes {
                if hole.isArg { program[hole.index].arg = target } else { program[hole.index].out = target }
            }
        }

        func collectNames(_ node: RegexNode, into names: inout [String]) {
            if node.op == Op.capture, node.cap < names.count { names[node.cap] = String(decoding: node.name, as: UTF8.self) }
            for sub in node.sub { collectNames(sub, into: &names) }
        }

        mutating func single(_ inst: Inst) -> Fragment {
            let index = emit(inst)
            // Only what consumes a rune (or fails) cannot match the empty string.
            let nullable = ![.rune, .any, .anyNotNL, .fail].contains(inst.kind)
            return Fragment(start: index, holes: [Hole(index: index, isArg: false)], nullable: nullable)
        }

        mutating func nop() -> Fragment { single(Inst(kind: .nop)) }

        mutating func concat(_ parts: [Fragment]) -> Fragment {
            guard var result = parts.first else { return nop() }
            for part in parts.dropFirst() {
                patchAll(result.holes, part.start)
                result.holes = part.holes
                result.nullable = result.nullable && part.nullable
            }
            return result
        }

        mutating func alternate(_ a: Fragment, _ b: Fragment) -> Fragment {
            let split = emit(Inst(kind: .split, out: a.start, arg: b.start))
            return Fragment(start: split, holes: a.holes + b.holes, nullable: a.nullable || b.nullable)
        }

        mutating func star(_ body: Fragment, nonGreedy: Bool) -> Fragment {
            // Go 1.19: a nullable body loops as (x+)? so that the priorities come out as Perl's.
            if body.nullable { return quest(plus(body, nonGreedy: nonGreedy), nonGreedy: nonGreedy) }
            let split = emit(Inst(kind: .split))
            if nonGreedy { program[split].arg = body.start } else { program[split].out = body.start }
            patchAll(body.holes, split)
            return Fragment(start: split, holes: [Hole(index: split, isArg: !nonGreedy)], nullable: true)
        }

        mutating func plus(_ body: Fragment, nonGreedy: Bool) -> Fragment {
            let split = emit(Inst(kind: .split))
            if nonGreedy { program[split].arg = body.start } else { program[split].out = body.start }
            patchAll(body.holes, split)
            return Fragment(start: body.start, holes: [Hole(index: split, isArg: !nonGreedy)], nullable: body.nullable)
        }

        mutating func quest(_ body: Fragment, nonGreedy: Bool) -> Fragment {
            let split = emit(Inst(kind: .split))
            if nonGreedy { program[split].arg = body.start } else { program[split].out = body.start }
            return Fragment(start: split, holes: body.holes + [Hole(index: split, isArg: !nonGreedy)], nullable: true)
        }

        mutating func compile(_ node: RegexNode) -> Fragment {
            let nonGreedy = node.flags & RegexParser.nonGreedy != 0
            switch node.op {
            case Op.noMatch: return single(Inst(kind: .fail))
            case Op.emptyMatch: return nop()
            case Op.literal:
                let fold = node.flags & RegexParser.foldCase != 0
                return concat(node.runes.map { single(Inst(kind: .rune, runes: [$0, $0], fold: fold)) })
            case Op.charClass:
                return node.runes.isEmpty ? single(Inst(kind: .fail)) : single(Inst(kind: .rune, runes: node.runes))
            case Op.anyCharNotNL: return single(Inst(kind: .anyNotNL))
            case Op.anyChar: return single(Inst(kind: .any))
            case Op.beginLine: return single(Inst(kind: .empty, n: GoRegex.beginLine))
            case Op.endLine: return single(Inst(kind: .empty, n: GoRegex.endLine))
            case Op.beginText: return single(Inst(kind: .empty, n: GoRegex.beginText))
            case Op.endText: return single(Inst(kind: .empty, n: GoRegex.endText))
            case Op.wordBoundary: return single(Inst(kind: .empty, n: GoRegex.wordBoundary))
            case Op.noWordBoundary: return single(Inst(kind: .empty, n: GoRegex.noWordBoundary))
            case Op.capture:
                let open = single(Inst(kind: .save, n: 2 * node.cap))
                let body = compile(node.sub[0])
                let close = single(Inst(kind: .save, n: 2 * node.cap + 1))
                return concat([open, body, close])
            case Op.star: return star(compile(node.sub[0]), nonGreedy: nonGreedy)
            case Op.plus: return plus(compile(node.sub[0]), nonGreedy: nonGreedy)
            case Op.quest: return quest(compile(node.sub[0]), nonGreedy: nonGreedy)
            case Op.repeatOp: return repeated(node.sub[0], min: node.min, max: node.max, nonGreedy: nonGreedy)
            case Op.concat: return concat(node.sub.map { compile($0) })
            case Op.alternate:
                var fragments = node.sub.map { compile($0) }
                guard var result = fragments.popLast() else { return single(Inst(kind: .fail)) }
                while let previous = fragments.popLast() { result = alternate(previous, result) }
                return result
            default:
                return single(Inst(kind: .fail))
            }
        }

        /// `x{min,max}` as Go's Simplify writes it: min copies, then (max-min) nested optional
        /// copies, or a star/plus for an open maximum (max -1).
        mutating func repeated(_ sub: RegexNode, min: Int, max: Int, nonGreedy: Bool) -> Fragment {
            if max == -1 {
                if min == 0 { return star(compile(sub), nonGreedy: nonGreedy) }
                var parts = (0..<(min - 1)).map { _ in compile(sub) }
                parts.append(plus(compile(sub), nonGreedy: nonGreedy))
                return concat(parts)
            }
            if min == 0 && max == 0 { return nop() }
            var parts = (0..<min).map { _ in compile(sub) }
            if max > min {
                // (x(x(x)?)?)? built from the inside out.
                var optional = quest(compile(sub), nonGreedy: nonGreedy)
                for _ in 0..<(max - min - 1) {
                    optional = quest(concat([compile(sub), optional]), nonGreedy: nonGreedy)
                }
                parts.append(optional)
            }
            return concat(parts)
        }
    }

    /// The leftmost-first match starting at or after `from`: slots 2g and 2g+1 hold group g's
    /// bounds (-1 when the group took no part), as scalar offsets into `input`. Without
    /// `captures` only the whole match's bounds are kept (slots 0 and 1), which is cheaper.
    public func match(_ input: [Unicode.Scalar], from: Int = 0, captures: Bool = true) -> [Int]? {
        var machine = Machine(regex: self, input: input, slotCount: captures ? 2 * (groupCount + 1) : 2)
        return machine.run(from: from)
    }

    /// A Pike VM: the threads at each position in priority order, each instruction at most once
    /// per position, so the work is the text's length times the program's size.
    struct Machine {
        typealias Thread = (pc: Int, slots: [Int])
        let program: [Inst]
        let start: Int
        let input: [Unicode.Scalar]
        let slotCount: Int
        var current: [Thread] = []
        var next: [Thread] = []
        var onList: [Int]
        var generation = 0
        var stack: [Thread] = []

        init(regex: GoRegex, input: [Unicode.Scalar], slotCount: Int) {
            program = regex.program
            start = regex.start
            self.input = input
            self.slotCount = slotCount
            onList = [Int](repeating: -1, count: regex.program.count)
        }

        func context(at position: Int) -> Int {
            let before: Unicode.Scalar? = position > 0 ? input[position - 1] : nil
            let after: Unicode.Scalar? = position < input.count ? input[position] : nil
            var result = 0
            if before == nil || before == "\n" { result |= GoRegex.beginLine }
            if after == nil || after == "\n" { result |= GoRegex.endLine }
            if before == nil { result |= GoRegex.beginText }
            if after == nil { result |= GoRegex.endText }
            result |= GoRegex.isWord(before) != GoRegex.isWord(after) ? GoRegex.wordBoundary : GoRegex.noWordBoundary
            return result
        }

        /// Follows jumps, splits, saves and assertions from `pc`, adding the threads that wait on
        /// a rune (or match) to `next`, in priority order.
        mutating func add(_ pc: Int, _ slots: [Int], _ position: Int, _ context: Int) {
            stack.append((pc, slots))
            while let (pc, slots) = stack.popLast() {
                if pc < 0 || onList[pc] == generation { continue }
                onList[pc] = generation
                let inst = program[pc]
                switch inst.kind {
                case .jump, .nop: stack.append((inst.out, slots))
                case .split:
                    // The preferred branch is explored first: pushed last.
                    stack.append((inst.arg, slots))
                    stack.append((inst.out, slots))
                case .save:
                    if inst.n < slotCount {
                        var copy = slots
                        copy[inst.n] = position
                        stack.append((inst.out, copy))
                    } else {
                        stack.append((inst.out, slots))
                    }
                case .empty:
                    if inst.n & ~context == 0 { stack.append((inst.out, slots)) }
                case .fail: break
                case .rune, .any, .anyNotNL, .match: next.append((pc, slots))
                }
            }
        }

        mutating func run(from: Int) -> [Int]? {
            var matched: [Int]?
            var position = from
            let empty = [Int](repeating: -1, count: slotCount)
            generation += 1
            add(start, empty, position, context(at: position))
            swap(&current, &next)
            while !current.isEmpty || (matched == nil && position < input.count) {
                let scalar: Unicode.Scalar? = position < input.count ? input[position] : nil
                generation += 1
                next.removeAll(keepingCapacity: true)
                let nextContext = scalar == nil ? 0 : context(at: position + 1)
                for thread in current {
                    let inst = program[thread.pc]
                    if inst.kind == .match {
                        matched = thread.slots
                        break  // lower-priority threads are cut
                    }
                    guard let scalar, GoRegex.accepts(inst, Int32(bitPattern: scalar.value)) else { continue }
                    add(inst.out, thread.slots, position + 1, nextContext)
                }
                guard scalar != nil else { break }
                position += 1
                // A new attempt at this position, lowest priority, until something matched.
                if matched == nil { add(start, empty, position, nextContext) }
                swap(&current, &next)
            }
            return matched
        }
    }

    static func accepts(_ inst: Inst, _ r: Int32) -> Bool {
        switch inst.kind {
        case .any: return true
        case .anyNotNL: return r != 0x0A
        case .rune:
            if inst.fold {
                let literal = inst.runes[0]
                if r == literal { return true }
                var folded = RegexParser.simpleFold(literal)
                while folded != literal {
                    if folded == r { return true }
                    folded = RegexParser.simpleFold(folded)
                }
                return false
            }
            var index = 0
            while index + 1 < inst.runes.count {
                if r < inst.runes[index] { return false }
                if r <= inst.runes[index + 1] { return true }
                index += 2
            }
            return false
        default: return false
        }
    }

    /// Go's `\b` word characters: ASCII letters, digits and underscore.
    static func isWord(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar, scalar.isASCII else { return false }
        let value = scalar.value
        return (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) || value == 0x5F
    }

    /// Go's `regexp.MatchString`: whether the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        match(Array(text.unicodeScalars), captures: false) != nil
    }

    /// Go's `Regexp.ReplaceAllString`: every non-overlapping match replaced by `template`
    /// expanded (`$1`, `${1}`, `$name`, `${name}`, `$$`); an empty match right after a match is
    /// not replaced.
    public func replaceAll(_ text: String, with template: String) -> String {
        let input = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var lastMatchEnd = 0
        var searchFrom = 0
        // Go's ReplaceAllString, step by step.
        while searchFrom <= input.count, let slots = match(input, from: searchFrom) {
            out.append(contentsOf: input[lastMatchEnd..<slots[0]])
            // No replacement for an empty match right after another match.
            if slots[1] > lastMatchEnd || slots[0] == 0 {
                out.append(contentsOf: expand(template, slots: slots, input: input).unicodeScalars)
            }
            lastMatchEnd = slots[1]
            // Advance past this match; always at least one character.
            searchFrom = searchFrom + 1 > slots[1] ? searchFrom + 1 : slots[1]
        }
        out.append(contentsOf: input[lastMatchEnd...])
        return String(out)
    }

    /// Go's `Regexp.expand`: `$$`, `$name`, `${name}`; a name is letters, decimal digits and
    /// `_` (runes, as Go's extract reads them); a number names a group, a name the first group
    /// of that name that took part in the match; anything malformed leaves the `$` as text.
    func expand(_ template: String, slots: [Int], input: [Unicode.Scalar]) -> String {
        func group(_ number: Int) -> String {
            guard 2 * number + 1 < slots.count, slots[2 * number] >= 0, slots[2 * number + 1] >= 0 else { return "" }
            return String(String.UnicodeScalarView(input[slots[2 * number]..<slots[2 * number + 1]]))
        }
        func isNameRune(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber: return true
            default: return scalar == "_"
            }
        }
        var out = String.UnicodeScalarView()
        var rest = template.unicodeScalars[...]
        while let dollar = rest.firstIndex(of: "$") {
            out.append(contentsOf: rest[..<dollar])
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" { out.append("$"); rest = rest.dropFirst(); continue }
            var body = rest
            let braced = body.first == "{"
            if braced { body = body.dropFirst() }
            let name = body.prefix(while: isNameRune)
            var after = body[name.endIndex...]
            if name.isEmpty || (braced && after.first != "}") { out.append("$"); continue }  // malformed: the $ is text
            if braced { after = after.dropFirst() }
            rest = after
            let text = String(String.UnicodeScalarView(name))
            let digits = name.allSatisfy { $0.isASCII && $0.value >= 0x30 && $0.value <= 0x39 }
            if digits && !(name.first == "0" && name.count > 1), name.count < 9, let number = Int(text) {
                out.append(contentsOf: group(number).unicodeScalars)
            } else if let number = groupNames.indices.first(where: {
                $0 > 0 && groupNames[$0] == text && 2 * $0 + 1 < slots.count && slots[2 * $0] >= 0
            }) {
                out.append(contentsOf: group(number).unicodeScalars)
            }
        }
        out.append(contentsOf: rest)
        return String(out)
    }
}
