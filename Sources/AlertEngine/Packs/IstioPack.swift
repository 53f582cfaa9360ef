import MetricModel
import GoTemplate
import Foundation
import PromQL

/// The built-in Istio alert pack of the runbooks and the troubleshooting guide: nine alerts whose
/// thresholds, `for` durations and job and container names are parameters, not hand-edited
/// copies of the rules.
public struct IstioPack: Sendable {
    /// The pack's knobs, by the key `--set` and the config use.
    public struct Parameters: Sendable, Equatable {
        public var window = "5m"
        public var errorRateThreshold = 0.05
        public var errorRateFor = "2m"
        /// Requests per second below which a service's error ratio is not judged.
        public var minRequestsPerSecond = 0.1
        public var latencyP95Millis = 1000.0
        public var latencyFor = "5m"
        public var circuitBreakerFor = "1m"
        public var mtlsMinShare = 0.95
        public var mtlsFor = "5m"
        public var certificateDays = 7.0
        public var certificateFor = "10m"
        public var istiodFor = "1m"
        public var proxyMemoryBytes = 500_000_000.0
        public var proxyMemoryFor = "5m"
        /// The guide's mTLSDisabled: the most of all mesh traffic that may be plain text.
        public var mtlsDisabledMaxShare = 0.01
        public var mtlsDisabledFor = "5m"
        /// The share of a service's requests denied (403) past which authorization failures page.
        public var authorizationMaxShare = 0.05
        public var authorizationFor = "2m"
        /// The scrape job of istiod and the sidecar's container name, as the cluster names them.
        public var istiodJob = "istiod"
        public var proxyContainer = "istio-proxy"
        public var interval = "30s"

        public init() {}

        /// Every key with its current value, in a stable order.
        public var entries: [(key: String, value: String)] {
            [("window", window), ("interval", interval),
             ("error_rate.threshold", GoFormat.float(errorRateThreshold)), ("error_rate.for", errorRateFor),
             ("error_rate.min_rps", GoFormat.float(minRequestsPerSecond)),
             ("latency.p95_ms", GoFormat.float(latencyP95Millis)), ("latency.for", latencyFor),
             ("circuit_breaker.for", circuitBreakerFor),
             ("mtls.min_share", GoFormat.float(mtlsMinShare)), ("mtls.for", mtlsFor),
             ("certificate.days", GoFormat.float(certificateDays)), ("certificate.for", certificateFor),
             ("istiod.for", istiodFor),
             ("proxy_memory.bytes", GoFormat.float(proxyMemoryBytes)), ("proxy_memory.for", proxyMemoryFor),
             ("mtls_disabled.max_share", GoFormat.float(mtlsDisabledMaxShare)), ("mtls_disabled.for", mtlsDisabledFor),
             ("authorization.max_share", GoFormat.float(authorizationMaxShare)), ("authorization.for", authorizationFor),
             ("istiod.job", istiodJob), ("proxy.container", proxyContainer)]
        }

        /// Sets one parameter from text, checking it.
        public mutating func set(_ key: String, to text: String) throws(PackError) {
            func number(min: Double = 0, max: Double = .infinity) throws(PackError) -> Double {
                guard let value = Double(text), value.isFinite, value >= min, value <= max else {
                    throw PackError("\(key): expected a number between \(GoFormat.float(min)) and \(GoFormat.float(max)), got \"\(text)\"")
                }
                return value
            }
            func duration(positive: Bool = false) throws(PackError) -> String {
                guard let value = PrometheusDuration.parse(text), !positive || value > .zero else {
                    throw PackError("\(key): expected a Prometheus duration such as 30s, 5m or 1h, got \"\(text)\"")
                }
                return text
            }
            // A label value: anything but empty; it is quoted into the expressions, never pasted.
            func name() throws(PackError) -> String {
                guard !text.isEmpty, text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                    throw PackError("\(key): expected a non-empty name without control characters, got \(GoQuote.quote(text))")
                }
                return text
            }
            switch key {
            case "window": window = try duration(positive: true)
            case "interval": interval = try duration(positive: true)
            case "error_rate.threshold": errorRateThreshold = try number(max: 1)
            case "error_rate.for": errorRateFor = try duration()
            case "error_rate.min_rps": minRequestsPerSecond = try number()
            case "latency.p95_ms": latencyP95Millis = try number()
            case "latency.for": latencyFor = try duration()
            case "circuit_breaker.for": circuitBreakerFor = try duration()
            case "mtls.min_share": mtlsMinShare = try number(max: 1)
            case "mtls.for": mtlsFor = try duration()
            case "certificate.days": certificateDays = try number()
            case "certificate.for": certificateFor = try duration()
            case "istiod.for": istiodFor = try duration()
            case "proxy_memory.bytes": proxyMemoryBytes = try number()
            case "proxy_memory.for": proxyMemoryFor = try duration()
            case "mtls_disabled.max_share": mtlsDisabledMaxShare = try number(max: 1)
            case "mtls_disabled.for": mtlsDisabledFor = try duration()
            case "authorization.max_share": authorizationMaxShare = try number(max: 1)
            case "authorization.for": authorizationFor = try duration()
            case "istiod.job": istiodJob = try name()
            case "proxy.container": proxyContainer = try name()
            default:
                throw PackError("unknown parameter \"\(key)\"; known: " + entries.map(\.key).joined(separator: ", "))
            }
        }
    }

    public static let groupName = "meshwatchd-istio"
    public var parameters: Parameters

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    private static let destination = "destination_workload, destination_workload_namespace, destination_service"

    /// Requests per second per destination workload (destination reporter).
    var requestRate: String {
        #"sum by (\#(Self.destination)) (rate(istio_requests_total{reporter="destination"}[\#(parameters.window)]))"#
    }

    /// The share of a destination's requests that match `selector`. `or … * 0` gives a
    /// service with no matching series a share of 0 rather than no result, so it is still
    /// seen (and judged against a floor or a minimum).
    func share(of selector: String) -> String {
        #"(sum by (\#(Self.destination)) (rate(istio_requests_total{reporter="destination",\#(selector)}[\#(parameters.window)])) or \#(requestRate) * 0) / \#(requestRate)"#
    }

    /// The 5xx share per destination, before threshold and floor.
    public var errorRatio: String { share(of: ##"response_code=~"5..""##) }

    /// The pack as rule definitions, in the order of the runbooks.
    public var definitions: [RuleDefinition] {
        let p = parameters
        let by = Self.destination
        let requests = requestRate
        let floor = GoFormat.float(p.minRequestsPerSecond)
        // Numbers in expressions read as written: 500000000, not 5e+08.
        func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : GoFormat.float(value)
        }
        // 0.05 × 100 is 5.000000000000001 in binary floating point: round for the text.
        func percent(_ share: Double) -> String { GoFormat.float((share * 100 * 1e9).rounded() / 1e9) }
        return [
            RuleDefinition(
                name: "IstioHighErrorRate",
                expression: "\(errorRatio) > \(GoFormat.float(p.errorRateThreshold)) and \(requests) >= \(floor)",
                holdDuration: p.errorRateFor, severity: "critical",
                summary: "{{ $labels.destination_service }}: {{ $value | humanizePercentage }} of requests fail with 5xx",
                description: "More than \(percent(p.errorRateThreshold))% of requests to {{ $labels.destination_workload }} in {{ $labels.destination_workload_namespace }} answered 5xx over the last \(p.window) (runbook: check pods, events, recent rollouts, logs)."),
            RuleDefinition(
                name: "IstioHighLatency",
                expression: #"histogram_quantile(0.95, sum by (le, \#(by)) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[\#(p.window)]))) > \#(number(p.latencyP95Millis))"#,
                holdDuration: p.latencyFor, severity: "warning",
                summary: "{{ $labels.destination_service }}: P95 latency {{ $value | printf \"%.0f\" }}ms",
                description: "The 95th percentile of request latency to {{ $labels.destination_workload }} in {{ $labels.destination_workload_namespace }} is above \(number(p.latencyP95Millis))ms (runbook: check CPU, memory, replicas and HPA)."),
            RuleDefinition(
                name: "IstioCircuitBreakerOpen",
                // Envoy's overflow (UO) and open breakers, the runbook's istio_circuit_breaker_ejections_total,
                // and Envoy's outlier ejections (hosts taken out of the pool for their errors).
                expression: #"sum by (\#(by)) (rate(istio_requests_total{response_flags=~".*UO.*"}[\#(p.window)])) > 0 or sum by (\#(by)) (rate(istio_circuit_breaker_ejections_total[\#(p.window)])) > 0 or sum by (cluster_name, namespace) (envoy_cluster_circuit_breakers_default_cx_open) > 0 or sum by (cluster_name, namespace) (rate(envoy_cluster_upstream_rq_pending_overflow[\#(p.window)])) > 0 or sum by (cluster_name, namespace) (rate(envoy_cluster_outlier_detection_ejections_enforced_total[\#(p.window)])) > 0"#,
                holdDuration: p.circuitBreakerFor, severity: "warning",
                summary: "Circuit breaker open for {{ if $labels.destination_service }}{{ $labels.destination_service }}{{ else }}{{ $labels.cluster_name }}{{ end }}",
                description: "Envoy reports upstream overflow, an open circuit breaker or outlier ejections (value {{ $value | humanize }}) (runbook: check the DestinationRule traffic policy, outlier ejections and the upstream's health)."),
            RuleDefinition(
                name: "IstioLowMTLSCoverage",
                expression: "\(share(of: ##"connection_security_policy="mutual_tls""##)) < \(GoFormat.float(p.mtlsMinShare)) and \(requests) >= \(floor)",
                holdDuration: p.mtlsFor, severity: "warning",
                summary: "{{ $labels.destination_service }}: only {{ $value | humanizePercentage }} of requests use mTLS",
                description: "Less than \(percent(p.mtlsMinShare))% of requests to {{ $labels.destination_workload }} in {{ $labels.destination_workload_namespace }} are mutual TLS (runbook: check PeerAuthentication and pods without an istio-proxy sidecar)."),
            RuleDefinition(
                name: "IstioCertificateExpiring",
                expression: "certmanager_certificate_expiration_timestamp_seconds - time() < \(number(p.certificateDays * 86400)) or citadel_server_root_cert_expiry_timestamp - time() < \(number(p.certificateDays * 86400))",
                holdDuration: p.certificateFor, severity: "warning",
                summary: "Certificate {{ if $labels.name }}{{ $labels.namespace }}/{{ $labels.name }}{{ else }}of the Istio root CA{{ end }} expires in {{ $value | humanizeDuration }}",
                description: "A mesh certificate expires within \(number(p.certificateDays)) days (runbook: check cert-manager, its orders and challenges, and renew)."),
            RuleDefinition(
                name: "IstiodDown",
                expression: "up{job=\(GoQuote.quote(p.istiodJob))} == 0 or absent(up{job=\(GoQuote.quote(p.istiodJob))})",
                holdDuration: p.istiodFor, severity: "critical",
                summary: "istiod {{ if $labels.instance }}{{ $labels.instance }} {{ end }}is down",
                description: "The Istio control plane is not scraped as up: new configuration and certificates are not being pushed (runbook: check istiod pods and events in istio-system)."),
            RuleDefinition(
                name: "IstioHighProxyMemory",
                expression: "container_memory_working_set_bytes{container=\(GoQuote.quote(p.proxyContainer))} > \(number(p.proxyMemoryBytes))",
                holdDuration: p.proxyMemoryFor, severity: "warning",
                summary: "istio-proxy of {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanize1024 }}B",
                description: "The sidecar's working set is above \(number(p.proxyMemoryBytes)) bytes (runbook: check the proxy's configuration size and Sidecar scoping)."),
            RuleDefinition(
                name: "IstioMTLSDisabled",
                expression: #"sum(rate(istio_requests_total{reporter="destination",connection_security_policy!="mutual_tls"}[\#(p.window)])) / sum(rate(istio_requests_total{reporter="destination"}[\#(p.window)])) > \#(GoFormat.float(p.mtlsDisabledMaxShare))"#,
                holdDuration: p.mtlsDisabledFor, severity: "warning",
                summary: "{{ $value | humanizePercentage }} of the mesh's traffic is not mutual TLS",
                description: "More than \(percent(p.mtlsDisabledMaxShare))% of all requests in the mesh over the last \(p.window) were not mutual TLS (the guide's mTLSDisabled). Counted on reporter=\"destination\" only: on source-reported series connection_security_policy is \"unknown\", so the guide's expression over all series would fire for ever (runbook: non-mTLS edges, PeerAuthentication, pods without a sidecar)."),
            RuleDefinition(
                name: "IstioAuthorizationDenied",
                expression: "\(share(of: ##"response_code="403""##)) > \(GoFormat.float(p.authorizationMaxShare)) and \(requests) >= \(floor)",
                holdDuration: p.authorizationFor, severity: "critical",
                summary: "{{ $labels.destination_service }}: {{ $value | humanizePercentage }} of requests denied (403)",
                description: "More than \(percent(p.authorizationMaxShare))% of requests to {{ $labels.destination_workload }} in {{ $labels.destination_workload_namespace }} were refused with 403 over the last \(p.window): Envoy's \"RBAC: access denied\", an AuthorizationPolicy refusing callers it should admit, or callers that should not be there (security breach suspected) (runbook: denied requests by source, AuthorizationPolicy, the sidecar's RBAC log lines)."),
        ]
    }

    /// The pack as a rule group for the engine.
    public var group: RuleGroup {
        var group = RuleGroup(name: Self.groupName, interval: PrometheusDuration.parse(parameters.interval),
                              rules: definitions.map(\.rule), file: "<built-in istio pack>")
        group.builtIn = true
        return group
    }
}

/// A wrong pack parameter.
public struct PackError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One rule of a built-in pack, before it becomes an `AlertRule`.
public struct RuleDefinition: Sendable {
    public var name: String
    public var expression: String
    public var holdDuration: String
    public var severity: String
    public var summary: String
    public var description: String

    public var labels: [(name: String, template: String)] {
        [("mesh", "istio"), ("runbook", name), ("severity", severity)]
    }

    public var annotations: [(name: String, template: String)] {
        [("description", description), ("summary", summary)]
    }

    public var rule: AlertRule {
        AlertRule(name: name, expression: expression, holdDuration: PrometheusDuration.parse(holdDuration) ?? .zero,
                  labels: labels, annotations: annotations)
    }
}
