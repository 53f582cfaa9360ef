import MetricModel

/// One sample of a template query's answer: its labels (`__name__` included) and value.
public struct QuerySample: Sendable, Equatable {
    public var labels: Labels
    public var value: Double

    public init(labels: Labels, value: Double) {
        self.labels = labels
        self.value = value
    }
}

/// Answers a template's `query` synchronously: from what has been asked before, or by
/// throwing `TemplateError(pendingQuery:)` so that the caller runs it and executes again.
public typealias TemplateQuery = @Sendable (String) throws(TemplateError) -> [QuerySample]

/// What an alert template sees, as Prometheus provides it.
public struct TemplateData: Sendable {
    public var labels: Labels
    public var externalLabels: Labels
    public var externalURL: String
    public var value: Double
    /// What `query` asks; nil: `query` fails (no datasource).
    public var query: TemplateQuery?
    /// More fields of dot (`.Annotations`, `.Evidence`…), for the sinks' message templates.
    public var fields: [String: TemplateValue] = [:]

    public init(labels: Labels, externalLabels: Labels = .empty, externalURL: String = "", value: Double, query: TemplateQuery? = nil) {
        self.labels = labels
        self.externalLabels = externalLabels
        self.externalURL = externalURL
        self.value = value
        self.query = query
    }

    public init(labels: [String: String], externalLabels: [String: String] = [:], externalURL: String = "", value: Double) {
        self.init(labels: Labels(labels), externalLabels: Labels(externalLabels), externalURL: externalURL, value: value)
    }
}
