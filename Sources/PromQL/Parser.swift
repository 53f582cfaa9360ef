/// PromQL's parser for the language as Prometheus 2.42 defines it: a precedence-climbing
/// parser over `Lexer`'s tokens, then Prometheus's type checks (`checkAST`). Errors carry
/// promtool's position (line:column of the expression).
public struct Parser {
    let lexer: Lexer
    let tokens: [Token]
    let syntax: Syntax
    var index = 0
    /// The first type error: Prometheus checks types once the whole expression has parsed,
    /// so a syntax error anywhere is reported first.
    private var typeError: PromQLError?
    /// How deep expressions nest right now: a rule file of `((((…` or `- - - -…` must be refused,
    /// not overflow the stack of the daemon that loads it.
    private var depth = 0
    static let maximumDepth = 256

    private mutating func deferred(_ check: () throws(PromQLError) -> Void) {
        guard typeError == nil else { return }
        do { try check() } catch { typeError = error }
    }

    /// Parses `text`; throws the first error, positioned as promtool positions it.
    public static func parse(_ text: String, syntax: Syntax = .prometheus2) throws(PromQLError) -> Expr {
        var lexer = Lexer(text)
        var parser = Parser(lexer: lexer, tokens: try lexer.tokens(), syntax: syntax)
        let expr = try parser.expression(0)
        guard parser.current.kind == .eof else { throw parser.unexpected("", parser.current) }
        if let typeError = parser.typeError { throw typeError }
        return expr.expr
    }

    private init(lexer: Lexer, tokens: [Token], syntax: Syntax) {
        self.lexer = lexer
        self.tokens = tokens
        self.syntax = syntax
    }

    /// An expression with the offset where it starts, for the checker's positions.
    /// An expression with where it starts, its type and its height, each computed once as the
    /// tree is built (recomputing a type walks the whole subtree: quadratic on a long chain).
    struct Located {
        var expr: Expr
        var offset: Int
        var type: ValueType
        /// Levels of the tree below and including this node (a chain `a + b + …` is a level a term).
        var height = 1

        init(expr: Expr, offset: Int, type: ValueType? = nil, height: Int = 1) {
            self.expr = expr
            self.offset = offset
            self.type = type ?? expr.type
            self.height = height
        }
    }

    /// The deepest tree accepted: printing, comparing and freeing a tree recurse through it.
    static let maximumHeight = 1000

    var current: Token { tokens[index] }
    mutating func advance() -> Token {
        defer { if index < tokens.count - 1 { index += 1 } }
        return tokens[index]
    }

    func error(_ message: String, at offset: Int) -> PromQLError { lexer.error(message, at: offset) }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .eof: return "end of input"
        case .identifier, .metricIdentifier: return "identifier \"\(token.text)\""
        case .number: return "number \"\(token.text)\""
        case .duration: return "duration \"\(token.text)\""
        case .string: return "string"
        case .keyword: return "<\(token.text)>"
        default: return "\"\(token.text)\""
        }
    }

    func unexpected(_ context: String, _ token: Token) -> PromQLError {
        error("unexpected \(describe(token))" + (context.isEmpty ? "" : " in \(context)"), at: token.offset)
    }

    mutating func expect(_ kind: Token.Kind, _ context: String) throws(PromQLError) -> Token {
        guard current.kind == kind else { throw unexpected(context, current) }
        return advance()
    }

    // MARK: Binary operators

    private static func precedence(_ token: Token) -> Int? {
        switch token.kind {
        case .keyword:
            switch token.text {
            case "or": return 1
            case "and", "unless": return 2
            case "atan2": return 5
            default: return nil
            }
        case .equal, .notEqual, .lss, .lte, .gtr, .gte: return 3
        case .add, .sub: return 4
        case .mul, .div, .mod: return 5
        case .pow: return 6
        default: return nil
        }
    }

    private static func isComparison(_ op: String) -> Bool { ["==", "!=", "<", "<=", ">", ">="].contains(op) }

    mutating func expression(_ minimum: Int) throws(PromQLError) -> Located {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw error("expression nested deeper than \(Self.maximumDepth) levels", at: current.offset)
        }
        var lhs = try unary()
        while let precedence = Self.precedence(current), precedence >= minimum {
            let opToken = advance()
            let op = opToken.text
            var returnBool = false
            if current.kind == .keyword && current.text == "bool" {
                _ = advance()
                returnBool = true
            }
            var matching: VectorMatching?
            if current.kind == .keyword && (current.text == "on" || current.text == "ignoring") {
                var vm = VectorMatching()
                vm.on = advance().text == "on"
                vm.labels = try labelList("grouping labels")
                if current.kind == .keyword && (current.text == "group_left" || current.text == "group_right") {
                    vm.cardinality = advance().text == "group_left" ? .manyToOne : .oneToMany
                    if current.kind == .leftParen { vm.include = try labelList("grouping labels") }
                }
                matching = vm
            }
            // `^` is right-associative; every other operator left-associative.
            let rhs = try expression(op == "^" ? precedence : precedence + 1)
            let node = Expr.binary(op: op, lhs: lhs.expr, rhs: rhs.expr, returnBool: returnBool,
                                   matching: matching ?? (lhs.type == .vector && rhs.type == .vector ? VectorMatching() : nil))
            let checker = Checker(lexer: lexer)
            let (lhsType, rhsType) = (lhs.type, rhs.type)
            deferred { () throws(PromQLError) in
                try checker.binary(node, lhsType: lhsType, rhsType: rhsType, lhsAt: lhs.offset, opAt: opToken.offset, rhsAt: rhs.offset)
            }
            let height = max(lhs.height, rhs.height) + 1
            guard height <= Self.maximumHeight else {
                throw error("expression nested deeper than \(Self.maximumHeight) levels", at: opToken.offset)
            }
            lhs = Located(expr: node, offset: lhs.offset, type: lhsType == .scalar && rhsType == .scalar ? .scalar : .vector, height: height)
        }
        return lhs
    }

    private mutating func unary() throws(PromQLError) -> Located {
        guard current.kind == .add || current.kind == .sub else { return try postfix() }
        let op = advance()
        // Unary operators bind as tightly as `*`: only `^` binds tighter.
        let operand = try expression(6)
        if case .number(let value) = operand.expr {
            return Located(expr: .number(op.kind == .sub ? -value : value), offset: op.offset)
        }
        if operand.type != .scalar && operand.type != .vector {
            let failure = error("unary expression only allowed on expressions of type scalar or instant vector, got \"\(operand.type.rawValue)\"", at: op.offset)
            deferred { () throws(PromQLError) in throw failure }
        }
        return Located(expr: .unary(op: op.text, operand.expr), offset: op.offset, type: operand.type, height: operand.height + 1)
    }

    // MARK: Primaries and their modifiers

    private mutating func postfix() throws(PromQLError) -> Located {
        var located = try primary()
        while true {
            switch current.kind {
            case .leftBracket:
                let bracket = advance()
                let rangeToken = current
                let range = try duration("range")
                if range == 0 { throw error("duration must be greater than 0", at: rangeToken.offset) }
                if current.kind == .colon {
                    _ = advance()
                    let step = current.kind == .duration ? try duration("subquery step") : 0
                    _ = try expect(.rightBracket, "subquery selector")
                    if located.type != .vector {
                        let failure = error("subquery is only allowed on instant vector, got \(located.type.rawValue) instead", at: located.offset)
                        deferred { () throws(PromQLError) in throw failure }
                    }
                    located.expr = .subquery(located.expr, range: range, step: step, offset: 0, at: nil)
                } else {
                    _ = try expect(.rightBracket, "matrix selector")
                    guard case .selector(let selector) = located.expr else {
                        throw error("ranges only allowed for vector selectors", at: bracket.offset)
                    }
                    located.expr = .matrix(selector, range: range)
                }
            case .keyword where current.text == "offset":
                let keyword = advance()
                var sign: Int64 = 1
                if current.kind == .sub { _ = advance(); sign = -1 } else if current.kind == .add { _ = advance() }
                let value = try duration("offset") * sign
                located.expr = try Self.withOffset(located.expr, value, error: error("offset modifier must be preceded by an instant vector selector or range vector selector or a subquery", at: located.offset),
                                                   twice: error("offset may not be set multiple times", at: located.offset))
            case .at:
                let at = advance()
                let modifier: AtModifier
                if current.kind == .identifier && (current.text == "start" || current.text == "end") {
                    let name = advance().text
                    _ = try expect(.leftParen, "@ modifier")
                    _ = try expect(.rightParen, "@ modifier")
                    modifier = name == "start" ? .start : .end
                } else {
                    var sign = 1.0
                    if current.kind == .sub { _ = advance(); sign = -1 } else if current.kind == .add { _ = advance() }
                    let token = try expect(.number, "@ modifier")
                    guard let value = Self.number(token.text), value.isFinite else {
                        throw error("timestamp out of bounds for @ modifier: \(token.text)", at: token.offset)
                    }
                    modifier = .timestamp(milliseconds: Int64((value * sign * 1000).rounded()))
                }
                located.expr = try Self.withAt(located.expr, modifier, error: error("@ modifier must be preceded by an instant vector selector or range vector selector or a subquery", at: located.offset),
                                               twice: error("@ <timestamp> may not be set multiple times", at: located.offset))
            default:
                return located
            }
            // A range, subquery or modifier made a new node (a selector, matrix or subquery): its type is O(1) to read.
            located.type = located.expr.type
        }
    }

    private mutating func primary() throws(PromQLError) -> Located {
        let token = current
        switch token.kind {
        case .number:
            _ = advance()
            guard let value = Self.number(token.text) else { throw error("bad number or duration syntax: \"\(token.text)\"", at: token.offset) }
            return Located(expr: .number(value), offset: token.offset)
        case .string:
            _ = advance()
            return Located(expr: .string(token.text), offset: token.offset)
        case .leftParen:
            _ = advance()
            let inner = try expression(0)
            _ = try expect(.rightParen, "paren expression")
            return Located(expr: .paren(inner.expr), offset: token.offset, type: inner.type, height: inner.height + 1)
        case .leftBrace:
            let selector = try selector(name: nil, at: token.offset)
            // `{}` and `{a=""}` would select every series.
            if !selector.matchers.contains(where: { !Checker.matchesEmpty($0) }) {
                let failure = error("vector selector must contain at least one non-empty matcher", at: token.offset)
                deferred { () throws(PromQLError) in throw failure }
            }
            return Located(expr: .selector(selector), offset: token.offset)
        case .identifier, .metricIdentifier, .keyword where Self.metricKeywords.contains(token.text):
            _ = advance()
            let followedByGrouping = current.kind == .keyword && (current.text == "by" || current.text == "without")
            if token.kind == .identifier, Functions.isAggregator(token.text, syntax), current.kind == .leftParen || followedByGrouping {
                return Located(expr: try aggregation(token.text, at: token.offset), offset: token.offset)
            }
            if current.kind == .leftParen && token.kind == .identifier {
                return Located(expr: try call(token.text, at: token.offset), offset: token.offset)
            }
            return Located(expr: .selector(try selector(name: token.text, at: token.offset)), offset: token.offset)
        case .duration:
            throw unexpected("", token)
        default:
            throw unexpected("", token)
        }
    }

    private mutating func call(_ name: String, at offset: Int) throws(PromQLError) -> Expr {
        _ = try expect(.leftParen, "function call")
        let arguments = try argumentList("function call argument list")
        guard Functions.isFunction(name, syntax) else { throw error("unknown function with name \"\(name)\"", at: offset) }
        let checker = Checker(lexer: lexer)
        deferred { () throws(PromQLError) in try checker.call(name, arguments, at: offset) }
        return .call(name, arguments.map(\.expr))
    }

    /// `a, b, c )`: arguments up to and including the closing parenthesis (a trailing comma allowed).
    private mutating func argumentList(_ context: String) throws(PromQLError) -> [Located] {
        var arguments: [Located] = []
        while current.kind != .rightParen {
            arguments.append(try expression(0))
            if current.kind == .comma { _ = advance() } else if current.kind != .rightParen { throw unexpected(context, current) }
        }
        _ = advance()
        return arguments
    }

    private mutating func aggregation(_ op: String, at offset: Int) throws(PromQLError) -> Expr {
        var grouping: [String]?
        var without = false
        if current.kind == .keyword && (current.text == "by" || current.text == "without") {
            without = advance().text == "without"
            grouping = try labelList("grouping labels")
        }
        _ = try expect(.leftParen, "aggregation")
        let arguments = try argumentList("aggregation")
        if current.kind == .keyword && (current.text == "by" || current.text == "without") {
            guard grouping == nil else { throw unexpected("aggregation", current) }
            without = advance().text == "without"
            grouping = try labelList("grouping labels")
        }
        let parameterType = Functions.aggregators[op] ?? nil
        let expected = parameterType == nil ? 1 : 2
        let checker = Checker(lexer: lexer)
        guard arguments.count == expected else {
            let failure = arguments.isEmpty
                ? error("no arguments for aggregate expression provided", at: offset)
                : error("wrong number of arguments for aggregate expression provided, expected \(expected), got \(arguments.count)", at: offset)
            // Prometheus reports this when it reduces the aggregation, which it does on the next
            // token unless that is the end of the input (where a syntax error, if any, comes first).
            guard current.kind == .eof else { throw failure }
            deferred { () throws(PromQLError) in throw failure }
            let last = arguments.last?.expr ?? .number(0)
            return .aggregate(op: op, parameter: nil, expr: last, grouping: grouping ?? [], without: without)
        }
        deferred { () throws(PromQLError) in
            if let parameterType { try checker.expect(arguments[0], parameterType, "aggregation parameter") }
            try checker.expect(arguments[expected - 1], .vector, "aggregation expression")
        }
        return .aggregate(op: op, parameter: parameterType == nil ? nil : arguments[0].expr, expr: arguments[expected - 1].expr,
                          grouping: grouping ?? [], without: without)
    }

    /// A duration in milliseconds, as Prometheus's `model.ParseDuration` reads it.
    private mutating func duration(_ context: String) throws(PromQLError) -> Int64 {
        let token = current
        switch token.kind {
        case .duration:
            _ = advance()
            guard let value = Self.parseDuration(token.text) else { throw error("not a valid duration string: \"\(token.text)\"", at: token.offset) }
            return value
        case .number:
            throw error("missing unit character in duration", at: token.offset)
        default:
            throw unexpected(context, token)
        }
    }
}
