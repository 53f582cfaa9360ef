/// A position in an expression as promtool reports it: 1-based line and column (in bytes).
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "\(line):\(column)" }
}

/// A parse or type error with promtool's position.
public struct PromQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: SourcePosition
    public var message: String
    public var description: String { "\(position): parse error: \(message)" }
}

/// One token of PromQL, with the byte offset where it starts.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case identifier, metricIdentifier, number, duration, string, keyword
        case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket, comma, colon, at
        case assign, equal, notEqual, regexMatch, regexNoMatch
        case add, sub, mul, div, mod, pow, lss, lte, gtr, gte
        case eof
    }
    var kind: Kind
    var text: String
    var offset: Int
}
