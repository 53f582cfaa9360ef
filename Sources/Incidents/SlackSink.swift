import Foundation
import MeshHTTP

/// A Slack incoming webhook: a Block Kit message (summary, key labels, value, evidence,
/// decision) with a plain `text` fallback for notifications and clients without blocks.
/// Instances of one alert that fire within `groupWait` of each other share one message, as a
/// channel wants one post per incident, not one per pod.
public struct SlackSink: FindingSink {
    public let name: String
    let url: String
    let http: HTTPClient
    public let groupWait: Duration?
    /// The message's text, when the sink has a template of its own.
    var template: MessageTemplate?

    public init(name: String, url: String, groupWait: Duration? = .seconds(30), template: MessageTemplate? = nil, http: HTTPClient) {
        self.template = template
        self.name = name
        self.url = url
        self.http = http
        self.groupWait = groupWait
    }

    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        try await send(group: [body], ids: [id], at: time)
    }

    public func send(group bodies: [[UInt8]], ids: [String], at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let findings = try bodies.map(Finding.decode)
        var message = Self.message(findings)
        // Values in the template's text could say <!channel> or <!here>: those mentions are defused.
        if let text = template.flatMap({ $0.render(findings[0]) }).map({ $0.replacingOccurrences(of: "<!", with: "&lt;!") }), !text.isEmpty {
            // The template's text leads: as the notification text and as the first section under the header.
            message["text"] = String(text.prefix(3000))
            if var blocks = message["blocks"] as? [[String: Any]] {
                blocks.insert(["type": "section", "text": ["type": "mrkdwn", "text": String(text.prefix(3000))]], at: min(1, blocks.count))
                message["blocks"] = Array(blocks.prefix(50))
            }
        }
        return try await http.postSecret(url, json: try JSONSerialization.data(withJSONObject: message).bytes)
    }

    /// Instances shown in full in one message; Slack allows 50 blocks.
    static let shownInstances = 10

    static func message(_ finding: Finding) -> [String: Any] { message([finding]) }

    static func message(_ findings: [Finding]) -> [String: Any] {
        let first = findings[0]
        let icon = first.kind == .resolved ? ":white_check_mark:" : (first.severity == "critical" ? ":rotating_light:" : ":warning:")
        let state: String
        switch first.kind {
        case .firing: state = "FIRING"
        case .resolved: state = "RESOLVED"
        case .reminder: state = "STILL FIRING"
        case .escalated: state = "ESCALATED TO LEVEL \(first.escalationLevel)"
        case .acknowledged: state = "ACKNOWLEDGED BY \(first.acknowledgement?.by ?? "someone")"
        }
        let name = first.alert.name
        var text: String
        var blocks: [[String: Any]]
        if findings.count == 1 {
            text = "\(icon) [\(state)] \(name): \(first.alert.annotations["summary"] ?? name)"
            blocks = [["type": "header", "text": ["type": "plain_text", "text": "\(state): \(name)"]]]
        } else {
            let subjects = findings.prefix(shownInstances).map(subject).joined(separator: ", ")
            text = "\(icon) [\(state)] \(name): \(findings.count) alerts (\(subjects)\(findings.count > shownInstances ? ", …" : ""))"
            blocks = [["type": "header", "text": ["type": "plain_text", "text": "\(state): \(name) (\(findings.count))"]]]
        }
        for (index, finding) in findings.prefix(shownInstances).enumerated() {
            if index > 0 { blocks.append(["type": "divider"]) }
            blocks += instanceBlocks(finding, icon: icon)
        }
        if findings.count > shownInstances {
            blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "and \(findings.count - shownInstances) more"]]])
        }
        // Every link the finding carries (runbook first, then by name): a context block holds ten at most.
        let links = Finding.orderedLinks(first)
        if !links.isEmpty {
            blocks.append(["type": "context", "elements": links.prefix(10).map { link in
                ["type": "mrkdwn", "text": "<\(Self.slackURL(link.url))|\(Self.slackText(link.title))>"]
            }])
        }
        if text.count > 3000 { text = String(text.prefix(2999)) + "…" }
        return ["text": text, "blocks": blocks]
    }

    /// A URL inside Slack's `<url|text>`: the characters that would end it, percent-encoded.
    static func slackURL(_ url: String) -> String {
        url.replacingOccurrences(of: "|", with: "%7C").replacingOccurrences(of: "<", with: "%3C").replacingOccurrences(of: ">", with: "%3E")
    }

    /// Link text inside `<url|text>`: Slack's three control characters escaped, no `|`.
    static func slackText(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "|", with: "/")
    }

    static let keyLabels = ["destination_workload", "destination_workload_namespace", "destination_service", "namespace", "pod", "instance"]

    /// What tells instances apart in a grouped message: the workload, service or pod.
    static func subject(_ finding: Finding) -> String {
        keyLabels.lazy.compactMap { finding.alert.labels[$0] }.first ?? finding.alert.fingerprint
    }

    static func instanceBlocks(_ finding: Finding, icon: String) -> [[String: Any]] {
        let alert = finding.alert
        let summary = alert.annotations["summary"] ?? alert.name
        let fields = keyLabels.compactMap { key in alert.labels[key].map { "*\(key)*\n\($0)" } }
            + ["*severity*\n\(finding.severity)", "*value*\n\(alert.value)"]
        var blocks: [[String: Any]] = [
            ["type": "section", "text": ["type": "mrkdwn", "text": "\(icon) \(summary)"]],
            ["type": "section", "fields": fields.prefix(10).map { ["type": "mrkdwn", "text": $0] }],
        ]
        if !finding.evidence.isEmpty {
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": "*Evidence*\n" + finding.evidence.prefix(5).joined(separator: "\n")]])
        }
        if let decision = finding.remediation {
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": "*Remediation*\n\(decision)"]])
        }
        if let acknowledgement = finding.acknowledgement {
            blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "Acknowledged by " + slackText(acknowledgement.line)]]])
        }
        return blocks
    }
}

extension Data {
    var bytes: [UInt8] { Array(self) }
}
