import Foundation
import GoTemplate
import MetricModel

/// What the engine needs from a datasource: the series an expression returns at a time.
/// A scalar result comes back as one sample with no labels, as Prometheus's rule manager
/// treats it.
public protocol InstantQuerying: Sendable {
    func instantQuery(_ expression: String, at time: Date) async throws -> [Sample]
}

/// Where rule results are written (Prometheus's appender): a recording rule's series, an
/// alerting rule's `ALERTS` and `ALERTS_FOR_STATE`. `write` returns once the samples are
/// stored, and, with `readBack`, once they can be queried (a recording rule's: a later rule of
/// the group queries them).
public protocol SeriesWriting: Sendable {
    func write(_ samples: [Sample], readBack: Bool) async throws
}

/// An error that can say what PromQL itself said (Prometheus's `error`, without the HTTP
/// framing): what a template's `query` prints after "error calling query: ", as Prometheus's
/// engine error reads there.
public protocol QueryErrorText: Error {
    var queryErrorText: String { get }
}

/// Labels and URL every template sees (Prometheus's `global.external_labels` and
/// `--web.external-url`).
public struct EvaluationContext: Sendable {
    public var externalLabels: Labels
    public var externalURL: String
    /// Prometheus's global `rule_query_offset`: queries ask for this long before the
    /// evaluation time, for groups without their own `query_offset`.
    public var queryOffset: Duration
    /// What a template's `query` reads during one rule's evaluation (set by the engine).
    public var templateQuery: TemplateQuery?

    public init(externalLabels: [String: String] = [:], externalURL: String = "", queryOffset: Duration = .zero) {
        self.externalLabels = Labels(externalLabels)
        self.externalURL = externalURL
        self.queryOffset = queryOffset
    }
}

/// An error of a query service that can tell whether the datasource failed (unreachable,
/// overloaded, an answer that is no API response) rather than the query itself (a bad
/// expression, an execution error, an answer too large): readiness blames the datasource only
/// for the former. Errors that do not conform count as the datasource's.
public protocol DatasourceFailureReporting: Error {
    var isDatasourceFailure: Bool { get }
}
