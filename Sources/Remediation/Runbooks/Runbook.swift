import Foundation

/// A runbook as data: the diagnostic steps of one alert's documented procedure, in order, and
/// the remediation it may propose (acted on by the remediation step, not here).
public struct Runbook: Codable, Sendable, Equatable {
    public var alert: String
    public var title: String
    public var steps: [RunbookStep]
    /// `rollout_undo`, `scale` or `restart`; nil: escalate only.
    public var remediation: String?

    enum CodingKeys: String, CodingKey { case alert, title, steps, remediation }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        alert = try container.decode(String.self, forKey: .alert)
        title = try container.decodeIfPresent(String.self, forKey: .title) ?? alert
        steps = try container.decodeIfPresent([RunbookStep].self, forKey: .steps) ?? []
        remediation = try container.decodeIfPresent(String.self, forKey: .remediation)
    }

    /// The built-in runbooks with `definitions` replacing those of the same alert and adding the others.
    public static func catalog(_ definitions: [Runbook]) -> [String: Runbook] {
        var catalog = Dictionary(uniqueKeysWithValues: builtIn.map { ($0.alert, $0) })
        for runbook in definitions { catalog[runbook.alert] = runbook }
        return catalog
    }

    public init(alert: String, title: String, steps: [RunbookStep], remediation: String? = nil) {
        self.alert = alert
        self.title = title
        self.steps = steps
        self.remediation = remediation
    }
}

/// One diagnostic step. Strings are templated with the alert's labels (`{{ $labels.x }}`).
public struct RunbookStep: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case promql, pods, events, rolloutHistory = "rollout_history", logs, hpa, meshResources = "mesh_resources", certificates
        case httpCheck = "http_check", exec
    }

    public var name: String
    public var kind: Kind
    /// Each step's own deadline (default 10s).
    public var timeout: String?
    /// The most rows or lines it keeps (default 10; logs 100).
    public var limit: Int?
    /// promql: the query.
    public var query: String?
    /// Namespace to look in (default: the target's).
    public var namespace: String?
    /// logs: the container (default: the first that is not istio-proxy); `istio-proxy` for the sidecar.
    public var container: String?
    /// logs: keep only lines matching this regular expression (`outlier|overflow|RBAC`);
    /// pods: `not_ready` or `without_sidecar` to show only those.
    public var filter: String?
    /// pods: a label selector (default: the target Deployment's selector).
    public var selector: String?
    /// rollout_history: how recent a rollout must be, before the alert went pending, to count (default 30m).
    public var window: String?
    /// mesh_resources: which kinds (default all four); certificates: also read TLS secrets (default true).
    public var kinds: [String]?
    /// certificates: TLS secrets to read by name (`namespace/name`); Secrets are never listed.
    public var secrets: [String]?
    /// http_check: the URL.
    public var url: String?
    /// exec: the command and its arguments; the command must be on the configured allow-list.
    public var command: [String]?

    public init(name: String, kind: Kind, timeout: String? = nil, limit: Int? = nil, query: String? = nil, namespace: String? = nil,
                container: String? = nil, filter: String? = nil, selector: String? = nil, window: String? = nil, kinds: [String]? = nil,
                secrets: [String]? = nil, url: String? = nil,
                command: [String]? = nil) {
        self.name = name
        self.kind = kind
        self.timeout = timeout
        self.limit = limit
        self.query = query
        self.namespace = namespace
        self.container = container
        self.filter = filter
        self.selector = selector
        self.window = window
        self.kinds = kinds
        self.secrets = secrets
        self.url = url
        self.command = command
    }
}

extension Runbook {
    /// The built-in runbooks, one per alert of the Istio pack, after the documented procedures.
    public static let builtIn: [Runbook] = [
        Runbook(alert: "IstioHighErrorRate", title: "High error rate", steps: [
            RunbookStep(name: "5xx rate by destination", kind: .promql, query: """
                topk(10, sum by (destination_workload, destination_workload_namespace, response_code) \
                (rate(istio_requests_total{reporter="destination", response_code=~"5.."}[5m])))
                """),
            RunbookStep(name: "pods of the workload", kind: .pods),
            RunbookStep(name: "recent events in the namespace", kind: .events, limit: 20),
            RunbookStep(name: "rollout history", kind: .rolloutHistory),
            RunbookStep(name: "application logs", kind: .logs, limit: 100),
        ], remediation: "rollout_undo"),
        Runbook(alert: "IstioHighLatency", title: "High P95 latency", steps: [
            RunbookStep(name: "P95 by destination", kind: .promql, query: """
                topk(10, histogram_quantile(0.95, sum by (destination_workload, destination_workload_namespace, le) \
                (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m]))))
                """),
            RunbookStep(name: "CPU of the workload's pods", kind: .promql, query: """
                topk(10, sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="{{ $labels.destination_workload_namespace }}", \
                pod=~"{{ $labels.destination_workload }}-.*", container!=""}[5m])))
                """),
            RunbookStep(name: "memory of the workload's pods", kind: .promql, query: """
                topk(10, sum by (pod) (container_memory_working_set_bytes{namespace="{{ $labels.destination_workload_namespace }}", \
                pod=~"{{ $labels.destination_workload }}-.*", container!=""}))
                """),
            RunbookStep(name: "pods of the workload", kind: .pods),
            RunbookStep(name: "horizontal pod autoscaler", kind: .hpa),
        ], remediation: "scale"),
        Runbook(alert: "IstioCircuitBreakerOpen", title: "Circuit breaker open", steps: [
            RunbookStep(name: "overflow and ejection counters", kind: .promql, query: """
                topk(10, sum by (cluster_name) (rate(envoy_cluster_upstream_rq_pending_overflow[5m])) \
                or sum by (cluster_name) (envoy_cluster_circuit_breakers_default_cx_open))
                """),
            // The runbook's "check ejection status": Istio's counter and Envoy's outlier detection.
            RunbookStep(name: "ejections", kind: .promql, query: """
                topk(10, sum by (destination_service) (rate(istio_circuit_breaker_ejections_total[5m])) \
                or sum by (cluster_name) (rate(envoy_cluster_outlier_detection_ejections_enforced_total[5m])) \
                or sum by (cluster_name) (envoy_cluster_outlier_detection_ejections_active))
                """),
            RunbookStep(name: "DestinationRule traffic policy", kind: .meshResources, kinds: ["DestinationRule"]),
            RunbookStep(name: "sidecar log lines about ejection and overflow", kind: .logs, limit: 50, container: "istio-proxy",
                        filter: "outlier|overflow|circuit"),
        ], remediation: "restart"),
        Runbook(alert: "IstioLowMTLSCoverage", title: "Low mTLS coverage", steps: [
            RunbookStep(name: "non-mTLS requests by source and destination", kind: .promql, query: """
                topk(10, sum by (source_workload, source_workload_namespace, destination_workload) \
                (rate(istio_requests_total{reporter="destination", connection_security_policy!="mutual_tls"}[5m])))
                """),
            RunbookStep(name: "PeerAuthentication and AuthorizationPolicy", kind: .meshResources,
                        kinds: ["PeerAuthentication", "AuthorizationPolicy"]),
            RunbookStep(name: "pods without an istio-proxy sidecar", kind: .pods, filter: "without_sidecar"),
        ], remediation: "restart"),
        Runbook(alert: "IstioCertificateExpiring", title: "Certificate expiring", steps: [
            RunbookStep(name: "certificates and their NotAfter", kind: .certificates),
            RunbookStep(name: "cert-manager pods", kind: .pods, namespace: "cert-manager", selector: "app.kubernetes.io/instance=cert-manager"),
        ], remediation: "restart"),
        Runbook(alert: "IstiodDown", title: "istiod down", steps: [
            RunbookStep(name: "istiod pods", kind: .pods, namespace: "istio-system", selector: "app=istiod"),
            RunbookStep(name: "events in istio-system", kind: .events, limit: 20, namespace: "istio-system"),
        ]),
        Runbook(alert: "IstioHighProxyMemory", title: "High proxy memory", steps: [
            RunbookStep(name: "proxy memory by pod", kind: .promql, query: """
                topk(10, max by (namespace, pod) (container_memory_working_set_bytes{container="istio-proxy"}))
                """),
            RunbookStep(name: "pods of the workload", kind: .pods),
        ]),
        // The guide's "mTLS Not Working": which edges are plain text, the policies, the pods without a sidecar.
        Runbook(alert: "IstioMTLSDisabled", title: "Mesh traffic without mTLS", steps: [
            RunbookStep(name: "non-mTLS requests by source and destination", kind: .promql, query: """
                topk(10, sum by (source_workload, source_workload_namespace, destination_workload, destination_workload_namespace, \
                connection_security_policy) (rate(istio_requests_total{reporter="destination", connection_security_policy!="mutual_tls"}[5m])))
                """),
            RunbookStep(name: "PeerAuthentication and DestinationRule TLS settings", kind: .meshResources,
                        kinds: ["PeerAuthentication", "DestinationRule"]),
            RunbookStep(name: "pods without an istio-proxy sidecar", kind: .pods, filter: "without_sidecar"),
        ]),
        // The guide's "403 Forbidden / RBAC: access denied": who is refused, by which policy.
        Runbook(alert: "IstioAuthorizationDenied", title: "Requests denied by authorization", steps: [
            RunbookStep(name: "403 answers by source", kind: .promql, query: """
                topk(10, sum by (source_workload, source_workload_namespace, source_principal) \
                (rate(istio_requests_total{reporter="destination", response_code="403", \
                destination_workload="{{ $labels.destination_workload }}", \
                destination_workload_namespace="{{ $labels.destination_workload_namespace }}"}[5m])))
                """),
            RunbookStep(name: "AuthorizationPolicy and PeerAuthentication", kind: .meshResources,
                        kinds: ["AuthorizationPolicy", "PeerAuthentication"]),
            RunbookStep(name: "sidecar RBAC log lines", kind: .logs, limit: 50, container: "istio-proxy", filter: "rbac|RBAC|403"),
        ]),
    ]
}
