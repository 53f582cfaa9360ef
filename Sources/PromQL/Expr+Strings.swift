/// Where a string stands in an expression, for code that rewrites the strings of a parsed
/// query (runbook steps fill label values in this way, never by pasting text).
public enum StringPosition: Sendable, Equatable {
    /// The value of a label matcher.
    case matcher(label: String, kind: LabelMatcher.Kind)
    /// A string argument of a function call (`label_replace`'s regex is argument 4).
    case argument(function: String, index: Int)
    /// A string elsewhere: `count_values`'s parameter, a string expression.
    case literal

    /// Whether the string is read as a regular expression.
    public var isRegex: Bool {
        switch self {
        case .matcher(_, let kind): return kind == .regex || kind == .notRegex
        case .argument(let function, let index): return function == "label_replace" && index == 4
        case .literal: return false
        }
    }
}

extension Expr {
    /// The expression with every string it holds (matcher values, string arguments and
    /// literals) passed through `transform`; the tree's shape never changes, so printing the
    /// result quotes each new string as a string. A metric name given as a `__name__` matcher
    /// that `transform` changes stays a matcher (`{__name__="…"}`), never a bare name.
    public func mappingStrings(_ transform: (String, StringPosition) throws -> String) rethrows -> Expr {
        switch self {
        case .number: return self
        case .string(let value): return .string(try transform(value, .literal))
        case .selector(let selector): return .selector(try selector.mappingStrings(transform))
        case .matrix(let selector, let range): return .matrix(try selector.mappingStrings(transform), range: range)
        case .subquery(let expr, let range, let step, let offset, let at):
            return .subquery(try expr.mappingStrings(transform), range: range, step: step, offset: offset, at: at)
        case .call(let name, let arguments):
            var mapped: [Expr] = []
            for (index, argument) in arguments.enumerated() {
                // A string argument, however many parentheses wrap it, keeps its position (a regex stays a regex).
                var parens = 0
                var inner = argument
                while case .paren(let wrapped) = inner { inner = wrapped; parens += 1 }
                if case .string(let value) = inner {
                    var rebuilt = Expr.string(try transform(value, .argument(function: name, index: index)))
                    for _ in 0..<parens { rebuilt = .paren(rebuilt) }
                    mapped.append(rebuilt)
                } else {
                    mapped.append(try argument.mappingStrings(transform))
                }
            }
            return .call(name, mapped)
        case .aggregate(let op, let parameter, let expr, let grouping, let without):
            return .aggregate(op: op, parameter: try parameter?.mappingStrings(transform), expr: try expr.mappingStrings(transform),
                              grouping: grouping, without: without)
        case .binary(let op, let lhs, let rhs, let returnBool, let matching):
            return .binary(op: op, lhs: try lhs.mappingStrings(transform), rhs: try rhs.mappingStrings(transform),
                           returnBool: returnBool, matching: matching)
        case .unary(let op, let expr): return .unary(op: op, try expr.mappingStrings(transform))
        case .paren(let expr): return .paren(try expr.mappingStrings(transform))
        }
    }
}

extension VectorSelector {
    func mappingStrings(_ transform: (String, StringPosition) throws -> String) rethrows -> VectorSelector {
        var copy = self
        var nameChanged = false
        for index in copy.matchers.indices {
            let matcher = copy.matchers[index]
            let value = try transform(matcher.value, .matcher(label: matcher.name, kind: matcher.kind))
            if value != matcher.value && matcher.name == "__name__" && matcher.kind == .equal && matcher.value == name { nameChanged = true }
            copy.matchers[index].value = value
        }
        if nameChanged { copy.name = "" }
        return copy
    }
}
