/// PromQL's value types, in Prometheus's words.
public enum ValueType: String, Sendable {
    case scalar, vector = "instant vector", matrix = "range vector", string
}

/// A label matcher: `name="value"`, `!=`, `=~`, `!~`.
public struct LabelMatcher: Sendable, Equatable {
    public enum Kind: String, Sendable { case equal = "=", notEqual = "!=", regex = "=~", notRegex = "!~" }
    public var name: String
    public var kind: Kind
    public var value: String

    public init(name: String, kind: Kind, value: String) {
        self.name = name
        self.kind = kind
        self.value = value
    }
}

/// `@ <time>`, `@ start()`, `@ end()`.
public enum AtModifier: Sendable, Equatable {
    case timestamp(milliseconds: Int64)
    case start, end
}

/// An instant vector selector with its modifiers.
public struct VectorSelector: Sendable, Equatable {
    public var name: String
    public var matchers: [LabelMatcher]
    /// Milliseconds; negative looks ahead.
    public var offset: Int64 = 0
    public var at: AtModifier?

    /// Matchers compare as a set: Prometheus prints them sorted, whatever order they were written in.
    public static func == (lhs: VectorSelector, rhs: VectorSelector) -> Bool {
        func key(_ matcher: LabelMatcher) -> String { matcher.name + "\u{0}" + matcher.kind.rawValue + "\u{0}" + matcher.value }
        return lhs.name == rhs.name && lhs.offset == rhs.offset && lhs.at == rhs.at
            && lhs.matchers.map(key).sorted() == rhs.matchers.map(key).sorted()
    }
}

/// Vector matching of a binary operation between two instant vectors.
public struct VectorMatching: Sendable, Equatable {
    public enum Cardinality: Sendable { case oneToOne, manyToOne, oneToMany, manyToMany }
    public var cardinality: Cardinality = .oneToOne
    public var on = false
    public var labels: [String] = []
    /// The labels of `group_left`/`group_right`.
    public var include: [String] = []
}

/// A PromQL expression as Prometheus 2.42's parser builds it.
public indirect enum Expr: Sendable, Equatable {
    case number(Double)
    case string(String)
    case selector(VectorSelector)
    /// A range vector selector: the selector (with its modifiers) over `range` milliseconds.
    case matrix(VectorSelector, range: Int64)
    case subquery(Expr, range: Int64, step: Int64, offset: Int64, at: AtModifier?)
    case call(String, [Expr])
    case aggregate(op: String, parameter: Expr?, expr: Expr, grouping: [String], without: Bool)
    case binary(op: String, lhs: Expr, rhs: Expr, returnBool: Bool, matching: VectorMatching?)
    case unary(op: String, Expr)
    case paren(Expr)

    /// The type the expression evaluates to.
    public var type: ValueType {
        switch self {
        case .number: return .scalar
        case .string: return .string
        case .selector: return .vector
        case .matrix, .subquery: return .matrix
        case .call(let name, _): return Functions.table[name]?.returns ?? .vector
        case .aggregate: return .vector
        case .binary(_, let lhs, let rhs, _, _): return lhs.type == .scalar && rhs.type == .scalar ? .scalar : .vector
        case .unary(_, let expr), .paren(let expr): return expr.type
        }
    }
}

/// The functions of Prometheus 2.42: argument types (the last one repeated for variadic
/// functions) and return type.
enum Functions {
    struct Signature {
        var arguments: [ValueType]
        /// How many arguments may follow the fixed ones: 0 none, -1 any number, n at most n.
        var variadic = 0
        var returns: ValueType = .vector
    }

    static let table: [String: Signature] = {
        var table: [String: Signature] = [:]
        let v = ValueType.vector, m = ValueType.matrix, s = ValueType.scalar, str = ValueType.string
        for name in ["abs", "absent", "ceil", "exp", "floor", "ln", "log10", "log2", "sgn", "sort", "sort_desc", "sqrt", "timestamp",
                     "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "rad",
                     "histogram_count", "histogram_sum"] {
            table[name] = Signature(arguments: [v])
        }
        for name in ["absent_over_time", "avg_over_time", "changes", "count_over_time", "delta", "deriv", "idelta", "increase", "irate",
                     "last_over_time", "max_over_time", "min_over_time", "present_over_time", "rate", "resets", "stddev_over_time",
                     "stdvar_over_time", "sum_over_time"] {
            table[name] = Signature(arguments: [m])
        }
        for name in ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"] {
            table[name] = Signature(arguments: [v], variadic: 1)
        }
        table["clamp"] = Signature(arguments: [v, s, s])
        table["clamp_max"] = Signature(arguments: [v, s])
        table["clamp_min"] = Signature(arguments: [v, s])
        table["histogram_quantile"] = Signature(arguments: [s, v])
        table["histogram_fraction"] = Signature(arguments: [s, s, v])
        table["holt_winters"] = Signature(arguments: [m, s, s])
        // Prometheus 3 (only with `Syntax.prometheus3`).
        for name in ["histogram_avg", "histogram_stddev", "histogram_stdvar"] { table[name] = Signature(arguments: [v]) }
        table["sort_by_label"] = Signature(arguments: [v, str], variadic: -1)
        table["sort_by_label_desc"] = Signature(arguments: [v, str], variadic: -1)
        table["double_exponential_smoothing"] = Signature(arguments: [m, s, s])
        table["mad_over_time"] = Signature(arguments: [m])
        table["info"] = Signature(arguments: [v, v], variadic: 1)
        table["label_replace"] = Signature(arguments: [v, str, str, str, str])
        table["label_join"] = Signature(arguments: [v, str, str, str], variadic: -1)
        table["predict_linear"] = Signature(arguments: [m, s])
        table["quantile_over_time"] = Signature(arguments: [s, m])
        table["round"] = Signature(arguments: [v, s], variadic: 1)
        table["scalar"] = Signature(arguments: [v], returns: s)
        table["time"] = Signature(arguments: [], returns: s)
        table["pi"] = Signature(arguments: [], returns: s)
        table["vector"] = Signature(arguments: [s])
        return table
    }()

    /// Aggregation operators; those with a parameter and its type.
    static let aggregators: [String: ValueType?] = [
        "sum": nil, "min": nil, "max": nil, "avg": nil, "group": nil, "stddev": nil, "stdvar": nil, "count": nil,
        "count_values": .string, "bottomk": .scalar, "topk": .scalar, "quantile": .scalar,
        "limitk": .scalar, "limit_ratio": .scalar,
    ]
}
