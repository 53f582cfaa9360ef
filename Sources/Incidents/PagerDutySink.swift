import Foundation
import MeshHTTP
import MetricModel

/// PagerDuty Events API v2: `trigger` on firing (and reminders), `resolve` on resolved, with
/// the fingerprint of the alert's labels *including the external labels* as `dedup_key`, so
/// PagerDuty folds repeats into one incident and two clusters never share one.
public struct PagerDutySink: FindingSink {
    public let name: String
    let url: String
    let routingKey: String
    let http: HTTPClient
    /// The event's summary, when the sink has a template of its own.
    var template: MessageTemplate?

    /// `url` defaults to PagerDuty's endpoint; tests and proxies point it elsewhere.
    public init(name: String, routingKey: String, url: String = "https://events.pagerduty.com/v2/enqueue", template: MessageTemplate? = nil,
                http: HTTPClient) {
        self.template = template
        self.name = name
        self.url = url
        self.routingKey = routingKey
        self.http = http
    }

    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let finding = try Finding.decode(body)
        if finding.kind == .resolved, let legacy = Self.legacyDedupKey(finding) {
            // An incident opened before the external labels were part of the key resolves with
            // the key it was opened with; for any other the extra resolve is a no-op.
            let event: [String: Any] = ["routing_key": routingKey, "event_action": "resolve", "dedup_key": legacy]
            let answer = try await http.postSecret(url, json: try JSONSerialization.data(withJSONObject: event).bytes)
            // Not accepted (network, 429, 5xx…): the whole resolve is judged, and retried, on this answer.
            guard case .success(let response) = answer, response.isSuccess else { return answer }
        }
        var event = Self.event(finding, routingKey: routingKey)
        if var payload = event["payload"] as? [String: Any], let summary = template?.render(finding), !summary.isEmpty {
            payload["summary"] = String(summary.prefix(1024))
            event["payload"] = payload
        }
        return try await http.postSecret(url, json: try JSONSerialization.data(withJSONObject: event).bytes)
    }

    /// `meshwatchd/<group>/<fingerprint of every label, external ones included>`.
    static func dedupKey(_ finding: Finding) -> String {
        "meshwatchd/\(finding.alert.group)/\(String(Labels(finding.alert.labels).fingerprint, radix: 16))"
    }

    /// The key used before the external labels were part of it (the instance's fingerprint),
    /// when it differs from today's.
    static func legacyDedupKey(_ finding: Finding) -> String? {
        let legacy = "meshwatchd/\(finding.alert.group)/\(finding.alert.fingerprint)"
        return legacy == dedupKey(finding) ? nil : legacy
    }

    /// PagerDuty's severities are critical, error, warning and info.
    static func severity(_ value: String) -> String {
        ["critical", "error", "warning", "info"].contains(value) ? value : (value == "page" ? "critical" : "warning")
    }

    static func event(_ finding: Finding, routingKey: String) -> [String: Any] {
        let alert = finding.alert
        let dedupKey = Self.dedupKey(finding)
        if finding.kind == .resolved {
            return ["routing_key": routingKey, "event_action": "resolve", "dedup_key": dedupKey]
        }
        // Events v2's own acknowledge: the incident shows as acknowledged and stops escalating.
        if finding.kind == .acknowledged {
            return ["routing_key": routingKey, "event_action": "acknowledge", "dedup_key": dedupKey]
        }
        let source = alert.labels["destination_service"] ?? alert.labels["instance"] ?? alert.labels["pod"] ?? "meshwatchd"
        var details: [String: Any] = ["labels": alert.labels, "annotations": alert.annotations, "value": alert.value,
                                      "escalation_level": finding.escalationLevel, "finding_id": finding.id]
        if !finding.evidence.isEmpty { details["evidence"] = finding.evidence }
        if let decision = finding.remediation { details["remediation"] = decision }
        if let acknowledgement = finding.acknowledgement { details["acknowledged_by"] = acknowledgement.line }
        var event: [String: Any] = [
            "routing_key": routingKey, "event_action": "trigger", "dedup_key": dedupKey,
            "payload": [
                "summary": String("\(alert.name): \(alert.annotations["summary"] ?? alert.name)".prefix(1024)),
                "source": source, "severity": severity(finding.severity), "component": alert.labels["destination_workload"] ?? "",
                "group": alert.labels["destination_workload_namespace"] ?? alert.group, "class": alert.name,
                "custom_details": details,
            ] as [String: Any],
        ]
        // Every link (runbook first), and where the alert came from.
        var links = Finding.orderedLinks(finding).map { ["href": $0.url, "text": $0.title] }
        if let source = alert.generatorURL { links.append(["href": source, "text": "Source"]) }
        if !links.isEmpty { event["links"] = links }
        return event
    }
}
