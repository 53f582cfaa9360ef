import Foundation

/// What `meshwatchd health` found, for a terminal or as JSON.
package struct MeshHealthReport: Encodable, Sendable {
    struct Service: Encodable, Sendable {
        var name: String
        var requestsPerSecond: Double
        var errorRatio: Double
        /// nil when the service has no latency histogram.
        var p95Millis: Double?
        var mtlsShare: Double
        /// Thresholds this service is past, in words; empty when healthy.
        var breaches: [String]

        static let tooLittleTraffic = "too little traffic to judge"

        var isPastThreshold: Bool { !breaches.isEmpty && breaches != [Self.tooLittleTraffic] }
    }

    struct Certificate: Encodable, Sendable {
        var name: String
        var secondsLeft: Double
    }

    var time: Date
    var window: String
    var istiodUp: Int
    var istiodTargets: Int
    var meshRequestsPerSecond: Double
    var meshErrorRatio: Double
    var meshMTLSShare: Double
    var services: [Service]
    var certificates: [Certificate]
    var certificateThresholdSeconds: Double
    /// The control plane's pods, when a Kubernetes API is configured.
    var controlPlanePods: [ControlPlanePod]? = nil
    var controlPlaneNamespace: String = "istio-system"
    /// Why the pods could not be read, when that failed.
    var controlPlaneError: String? = nil

    struct ControlPlanePod: Encodable, Sendable {
        var name: String
        var ready: Bool
        var restarts: Int
        var problem: String?
    }

    var expiringCertificates: [Certificate] { certificates.filter { $0.secondsLeft < certificateThresholdSeconds } }

    /// Whether anything is past a threshold (services with too little traffic do not count).
    var isHealthy: Bool {
        istiodTargets > 0 && istiodUp == istiodTargets && expiringCertificates.isEmpty
            && !services.contains { $0.isPastThreshold } && (controlPlanePods ?? []).allSatisfy(\.ready)
            && controlPlaneError == nil
    }

    package func renderTable(source: String) -> String {
        var lines: [String] = []
        let timestamp = ISO8601DateFormatter().string(from: time)
        lines.append("Mesh health at \(timestamp) (rates over \(window)) from \(source)")
        let istiod = istiodTargets == 0 ? "no up{job=\"istiod\"} series: istiod is not scraped or is gone"
                                        : "\(istiodUp)/\(istiodTargets) istiod targets up"
        lines.append("  control plane  \(istiod)")
        if let pods = controlPlanePods {
            let notReady = pods.filter { !$0.ready }
            var line = "  control pods   \(pods.count - notReady.count)/\(pods.count) pods ready in \(controlPlaneNamespace)"
            if !notReady.isEmpty {
                line += "; not ready: " + notReady.map { "\($0.name)" + ($0.problem.map { " (\($0))" } ?? "") }.joined(separator: ", ")
            }
            lines.append(line)
        } else if let controlPlaneError {
            lines.append("  control pods   cannot be read: \(controlPlaneError)")
        }
        lines.append(String(format: "  mesh-wide      %.1f req/s, 5xx %@, mTLS %@", meshRequestsPerSecond,
                            Self.share(meshErrorRatio), Self.share(meshMTLSShare)))
        for certificate in certificates.prefix(3) {
            let marker = certificate.secondsLeft < certificateThresholdSeconds ? "  ← expires within the runbook's 7 days" : ""
            lines.append("  certificate    \(certificate.name) expires in \(Self.duration(certificate.secondsLeft))\(marker)")
        }
        lines.append("")
        let header = ["SERVICE", "REQ/S", "5XX", "P95 MS", "MTLS", "PAST THRESHOLD"]
        var rows = [header]
        for service in services {
            rows.append([
                service.name,
                String(format: "%.2f", service.requestsPerSecond),
                Self.share(service.errorRatio),
                service.p95Millis.map { String(format: "%.0f", $0) } ?? "-",
                Self.share(service.mtlsShare),
                service.breaches.isEmpty ? "ok" : service.breaches.joined(separator: "; "),
            ])
        }
        let widths = (0..<header.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                column == 0 || column == row.count - 1
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            lines.append("  " + cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        lines.append("")
        lines.append(isHealthy ? "Verdict: healthy." : "Verdict: attention needed (see PAST THRESHOLD).")
        return lines.joined(separator: "\n")
    }

    func renderJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func share(_ value: Double) -> String { String(format: "%.2f %%", value * 100) }

    static func duration(_ seconds: Double) -> String {
        if seconds < 0 { return "already expired" }
        let days = Int(seconds / 86400)
        let hours = Int(seconds.truncatingRemainder(dividingBy: 86400) / 3600)
        return days > 0 ? "\(days)d \(hours)h" : "\(hours)h \(Int(seconds.truncatingRemainder(dividingBy: 3600) / 60))m"
    }
}
