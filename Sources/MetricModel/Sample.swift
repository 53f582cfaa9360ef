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

