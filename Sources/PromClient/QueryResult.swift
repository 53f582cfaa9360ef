import MetricModel

/// The `data` of a successful query, by `resultType`.
public enum QueryResult: Sendable, Equatable {
    case vector([Sample])
    case matrix([Series])
    case scalar(SamplePoint)
    case string(timestampMillis: Int64, value: String)

    /// The name Prometheus gives this result type.
    public var resultType: String {
        switch self {
        case .vector: "vector"
        case .matrix: "matrix"
        case .scalar: "scalar"
        case .string: "string"
        }
    }
}

/// A successful query: its result and what Prometheus warned about. A query with warnings
/// still succeeded (for example, partial data from a remote-read source).
public struct QueryResponse: Sendable, Equatable {
    public var result: QueryResult
    public var warnings: [String]
    public var infos: [String]

    public init(result: QueryResult, warnings: [String] = [], infos: [String] = []) {
        self.result = result
        self.warnings = warnings
        self.infos = infos
    }
}
