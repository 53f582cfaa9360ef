/// A value at a time. Timestamps are milliseconds since the epoch, as Prometheus keeps them.
public struct SamplePoint: Sendable, CustomStringConvertible {
    public var timestampMillis: Int64
    public var value: Double

    public init(timestampMillis: Int64, value: Double) {
        self.timestampMillis = timestampMillis
        self.value = value
    }

    public var description: String { "\(value) @\(timestampMillis)" }
}

extension SamplePoint: Equatable {
    /// Equal when the timestamps match and the values are the same number; NaN equals NaN
    /// here, as two `NaN` samples are the same answer from Prometheus.
    public static func == (lhs: SamplePoint, rhs: SamplePoint) -> Bool {
        lhs.timestampMillis == rhs.timestampMillis
            && (lhs.value == rhs.value || (lhs.value.isNaN && rhs.value.isNaN))
    }
}

/// One series of an instant vector.
public struct Sample: Sendable, Equatable {
    public var labels: Labels
    public var point: SamplePoint

    public init(labels: Labels, point: SamplePoint) {
        self.labels = labels
        self.point = point
    }

    public var value: Double { point.value }
}

/// One series of a range vector (a matrix).
public struct Series: Sendable, Equatable {
    public var labels: Labels
    public var points: [SamplePoint]

    public init(labels: Labels, points: [SamplePoint]) {
        self.labels = labels
        self.points = points
    }
}

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
