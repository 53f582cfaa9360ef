/// Which PromQL the parser reads. Prometheus 2.42's language is the default and the one
/// checked against promtool; Prometheus 3's additions are read only when a configuration asks
/// for them (`promql_syntax: prometheus-3`), for a Prometheus that understands them.
public enum Syntax: String, Sendable, CaseIterable {
    /// Prometheus 2.42: what promtool 2.42 accepts, nothing more.
    case prometheus2 = "prometheus-2.42"
    /// Prometheus 3: also quoted UTF-8 metric and label names (`{"http.requests", "le.bucket"="1"}`,
    /// `sum by ("k8s.pod") (…)`), `histogram_avg`/`_stddev`/`_stdvar`, `sort_by_label`(`_desc`),
    /// `double_exponential_smoothing` (3.0's name for `holt_winters`, which it removed),
    /// `mad_over_time`, `info`, and the `limitk`/`limit_ratio` aggregations.
    case prometheus3 = "prometheus-3"
}

extension Functions {
    /// Functions Prometheus 3 has that 2.42 has not (signatures in `table`).
    static let sinceVersion3: Set<String> = ["histogram_avg", "histogram_stddev", "histogram_stdvar", "sort_by_label",
                                             "sort_by_label_desc", "double_exponential_smoothing", "mad_over_time", "info"]
    /// Functions Prometheus 3 removed.
    static let removedInVersion3: Set<String> = ["holt_winters"]
    static let aggregatorsSinceVersion3: Set<String> = ["limitk", "limit_ratio"]

    static func isFunction(_ name: String, _ syntax: Syntax) -> Bool {
        guard table[name] != nil else { return false }
        switch syntax {
        case .prometheus2: return !sinceVersion3.contains(name)
        case .prometheus3: return !removedInVersion3.contains(name)
        }
    }

    static func isAggregator(_ name: String, _ syntax: Syntax) -> Bool {
        aggregators[name] != nil && (syntax == .prometheus3 || !aggregatorsSinceVersion3.contains(name))
    }
}
