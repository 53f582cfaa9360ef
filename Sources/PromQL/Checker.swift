/// Prometheus's type checks (`checkAST`), run as each node is built so that errors carry the
/// position promtool reports.
struct Checker {
    let lexer: Lexer

    private func error(_ message: String, at offset: Int) -> PromQLError { lexer.error(message, at: offset) }

    func expect(_ argument: Parser.Located, _ type: ValueType, _ context: String) throws(PromQLError) {
        guard argument.type == type else {
            throw error("expected type \(type.rawValue) in \(context), got \(argument.type.rawValue)", at: argument.offset)
        }
    }

    func call(_ name: String, _ arguments: [Parser.Located], at offset: Int) throws(PromQLError) {
        guard let signature = Functions.table[name] else { return }
        let count = signature.arguments.count
        if signature.variadic == 0 {
            guard arguments.count == count else {
                throw error("expected \(count) argument(s) in call to \"\(name)\", got \(arguments.count)", at: offset)
            }
        } else {
            let minimum = count - 1
            if arguments.count < minimum {
                throw error("expected at least \(minimum) argument(s) in call to \"\(name)\", got \(arguments.count)", at: offset)
            }
            if signature.variadic > 0 && arguments.count > minimum + signature.variadic {
                throw error("expected at most \(minimum + signature.variadic) argument(s) in call to \"\(name)\", got \(arguments.count)", at: offset)
            }
        }
        for (index, argument) in arguments.enumerated() {
            if index >= count && signature.variadic == 0 { break }
            try expect(argument, signature.arguments[min(index, count - 1)], "call to function \"\(name)\"")
        }
    }

    /// The operands' types come computed: recomputing them walks the subtrees.
    func binary(_ node: Expr, lhsType: ValueType, rhsType: ValueType, lhsAt: Int, opAt: Int, rhsAt: Int) throws(PromQLError) {
        guard case .binary(let op, _, _, let returnBool, let matching) = node else { return }
        let comparison = ["==", "!=", "<", "<=", ">", ">="].contains(op)
        let setOperator = ["and", "or", "unless"].contains(op)
        if returnBool && !comparison { throw error("bool modifier can only be used on comparison operators", at: opAt) }
        if comparison && !returnBool && lhsType == .scalar && rhsType == .scalar {
            throw error("comparisons between scalars must use BOOL modifier", at: opAt)
        }
        if let matching, matching.on {
            for label in matching.labels where matching.include.contains(label) {
                throw error("label \"\(label)\" must not occur in ON and GROUP clause at once", at: opAt)
            }
        }
        if lhsType != .scalar && lhsType != .vector {
            throw error("binary expression must contain only scalar and instant vector types", at: lhsAt)
        }
        if rhsType != .scalar && rhsType != .vector {
            throw error("binary expression must contain only scalar and instant vector types", at: rhsAt)
        }
        if lhsType != .vector || rhsType != .vector {
            if let matching, !matching.labels.isEmpty {
                throw error("vector matching only allowed between instant vectors", at: lhsAt)
            }
        } else if setOperator, let matching, matching.cardinality == .manyToOne || matching.cardinality == .oneToMany {
            throw error("no grouping allowed for \"\(op)\" operation", at: lhsAt)
        }
        if setOperator && (lhsType == .scalar || rhsType == .scalar) {
            throw error("set operator \"\(op)\" not allowed in binary scalar expression", at: lhsAt)
        }
    }

    /// Whether a matcher matches the empty string (and so selects everything on its own).
    static func matchesEmpty(_ matcher: LabelMatcher) -> Bool {
        switch matcher.kind {
        case .equal: return matcher.value.isEmpty
        case .notEqual: return !matcher.value.isEmpty
        // Without an RE2 engine: the common empty-matching patterns.
        case .regex: return matcher.value.isEmpty || [".*", "^.*$", ".*?", "(.*)"].contains(matcher.value)
        case .notRegex: return matcher.value == ".+" || matcher.value == "(.+)"
        }
    }
}
