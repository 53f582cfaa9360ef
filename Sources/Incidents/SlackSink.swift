import Foundation
import MeshHTTP

/// A Slack incoming webhook: a Block Kit message (summary, key labels, value, evidence,
/// decision) with a plain `text` fallback for notifications and clients without blocks.
public struct SlackSink: FindingSink {
    public let name: String
    let url: String
    let http: HTTPClient

    public init(name: String, url: String, http: HTTPClient) {
        self.name = name
        self.url = url
        self.http = http
    }

    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let finding = try Finding.decode(body)
        return try await http.postSecret(url, json: try JSONSerialization.data(withJSONObject: Self.message(finding)).bytes)
    }

    static func message(_ finding: Finding) -> [String: Any] {
        let alert = finding.alert
        let icon = finding.kind == .resolved ? ":white_check_mark:" : (finding.severity == "critical" ? ":rotating_light:" : ":warning:")
        let state = finding.kind == .resolved ? "RESOLVED" : finding.kind == .reminder ? "STILL FIRING" : "FIRING"
        let summary = alert.annotations["summary"] ?? alert.name
        let text = "\(icon) [\(state)] \(alert.name): \(summary)"
        let keyLabels = ["destination_workload", "destination_workload_namespace", "destination_service", "namespace", "pod", "instance"]
            .compactMap { key in alert.labels[key].map { "*\(key)*\n\($0)" } }
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": "\(state): \(alert.name)"]],
            ["type": "section", "text": ["type": "mrkdwn", "text": "\(icon) \(summary)"]],
            ["type": "section", "fields": (keyLabels + ["*severity*\n\(finding.severity)", "*value*\n\(alert.value)"])
                .prefix(10).map { ["type": "mrkdwn", "text": $0] }],
        ]
        if !finding.evidence.isEmpty {
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": "*Evidence*\n" + finding.evidence.prefix(5).joined(separator: "\n")]])
        }
        if let decision = finding.remediation {
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": "*Remediation*\n\(decision)"]])
        }
        if let runbook = finding.links["runbook"] {
            blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "<\(runbook)|Runbook>"]]])
        }
        return ["text": text, "blocks": blocks]
    }
}

extension Data {
    var bytes: [UInt8] { Array(self) }
}
