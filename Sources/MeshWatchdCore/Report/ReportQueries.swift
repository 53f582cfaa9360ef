import Foundation

/// The weekly review's questions, in each mesh's metrics. `W` is the window (`[7d]`), and each
/// per-service query returns one series per service under the `service` label.
struct ReportQueries: Sendable {
    var mesh: String
    /// Requests over the window, per service.
    var requests: String
    /// 5xx answers over the window, per service.
    var errors: String
    /// A latency histogram's buckets increased over the window, per service and `le`, in milliseconds.
    var latencyBuckets: String
    /// Authorization denials (403) over the window, per service.
    var denials: String
    /// mTLS requests and all requests over the window, mesh-wide (nil: the mesh has no such split).
    var mtls: (secure: String, all: String)?
    /// The control plane's pods: their containers' CPU and memory.
    var controlPlaneSelector: String
    /// The sidecar containers' selector (nil: no sidecars, as Cilium).
    var sidecarSelector: String?
    /// Per-hour mesh-wide series for the charts, `H` being the hour window.
    var hourlyRequests: String
    var hourlyErrorRatio: String
    var hourlyP95: String
    var hourlyMTLS: String?

    static func `for`(_ mesh: String) -> ReportQueries? {
        switch mesh {
        case "istio":
            let total = #"istio_requests_total{reporter="destination"}"#
            func by(_ selector: String) -> String {
                #"label_replace(sum by (destination_service) (increase(\#(selector)[W])), "service", "$1", "destination_service", "(.*)")"#
            }
            return ReportQueries(
                mesh: mesh, requests: by(total), errors: by(#"istio_requests_total{reporter="destination",response_code=~"5.."}"#),
                latencyBuckets: #"label_replace(sum by (le, destination_service) (increase(istio_request_duration_milliseconds_bucket{reporter="destination"}[W])), "service", "$1", "destination_service", "(.*)")"#,
                denials: by(#"istio_requests_total{reporter="destination",response_code="403"}"#),
                mtls: (#"sum(increase(istio_requests_total{reporter="destination",connection_security_policy="mutual_tls"}[W]))"#,
                       #"sum(increase(istio_requests_total{reporter="destination"}[W]))"#),
                controlPlaneSelector: #"namespace="istio-system",pod=~"istiod.*",container!="",container!="POD""#,
                sidecarSelector: #"container="istio-proxy""#,
                hourlyRequests: #"sum(rate(istio_requests_total{reporter="destination"}[H]))"#,
                hourlyErrorRatio: #"sum(rate(istio_requests_total{reporter="destination",response_code=~"5.."}[H])) / sum(rate(istio_requests_total{reporter="destination"}[H]))"#,
                hourlyP95: #"histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[H])))"#,
                hourlyMTLS: #"sum(rate(istio_requests_total{reporter="destination",connection_security_policy="mutual_tls"}[H])) / sum(rate(istio_requests_total{reporter="destination"}[H]))"#)
        case "linkerd":
            let inbound = #"direction="inbound""#
            func by(_ selector: String) -> String {
                #"label_join(sum by (namespace, deployment) (increase(\#(selector)[W])), "service", "/", "namespace", "deployment")"#
            }
            return ReportQueries(
                mesh: mesh, requests: by("response_total{\(inbound)}"), errors: by(#"response_total{\#(inbound),classification="failure"}"#),
                latencyBuckets: #"label_join(sum by (le, namespace, deployment) (increase(response_latency_ms_bucket{\#(inbound)}[W])), "service", "/", "namespace", "deployment")"#,
                denials: by(#"response_total{\#(inbound),status_code="403"}"#),
                mtls: (#"sum(increase(response_total{\#(inbound),tls="true"}[W]))"#, "sum(increase(response_total{\(inbound)}[W]))"),
                controlPlaneSelector: #"namespace="linkerd",container!="",container!="POD",container!="linkerd-proxy""#,
                sidecarSelector: #"container="linkerd-proxy""#,
                hourlyRequests: "sum(rate(response_total{\(inbound)}[H]))",
                hourlyErrorRatio: #"sum(rate(response_total{\#(inbound),classification="failure"}[H])) / sum(rate(response_total{\#(inbound)}[H]))"#,
                hourlyP95: "histogram_quantile(0.95, sum by (le) (rate(response_latency_ms_bucket{\(inbound)}[H])))",
                hourlyMTLS: #"sum(rate(response_total{\#(inbound),tls="true"}[H])) / sum(rate(response_total{\#(inbound)}[H]))"#)
        case "cilium":
            let server = #"hubble_http_requests_total{reporter="server"}"#
            func by(_ selector: String) -> String {
                #"label_join(sum by (destination_namespace, destination_workload) (increase(\#(selector)[W])), "service", "/", "destination_namespace", "destination_workload")"#
            }
            return ReportQueries(
                mesh: mesh, requests: by(server), errors: by(#"hubble_http_requests_total{reporter="server",status=~"5.."}"#),
                // Hubble measures seconds: × 1000, and the buckets' le too, so the report speaks milliseconds.
                latencyBuckets: #"label_join(sum by (le, destination_namespace, destination_workload) (increase(hubble_http_request_duration_seconds_bucket{reporter="server"}[W])), "service", "/", "destination_namespace", "destination_workload")"#,
                denials: by(#"hubble_http_requests_total{reporter="server",status="403"}"#),
                mtls: nil,
                controlPlaneSelector: #"namespace="kube-system",pod=~"cilium-operator.*",container!="",container!="POD""#,
                sidecarSelector: nil,
                hourlyRequests: "sum(rate(\(server)[H]))",
                hourlyErrorRatio: #"sum(rate(hubble_http_requests_total{reporter="server",status=~"5.."}[H])) / sum(rate(\#(server)[H]))"#,
                hourlyP95: #"1000 * histogram_quantile(0.95, sum by (le) (rate(hubble_http_request_duration_seconds_bucket{reporter="server"}[H])))"#,
                hourlyMTLS: nil)
        default:
            return nil
        }
    }

    /// Hubble's buckets are in seconds.
    var latencyScale: Double { mesh == "cilium" ? 1000 : 1 }
}
