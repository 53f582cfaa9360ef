import Foundation
import MeshHTTP

/// Alertmanager's API v2: `POST /api/v2/alerts` with the alert as Prometheus sends it, so
/// existing routes, inhibitions, silences and receivers keep working. Like Prometheus, the
/// alert is re-sent while it fires (the sink's repeat interval, a minute by default) with
/// `endsAt` a few intervals ahead, so Alertmanager resolves it by itself should meshwatchd
/// stop; a resolve sends `endsAt` = the resolve time.
public struct AlertmanagerSink: FindingSink {
    public let name: String
    /// Every Alertmanager of the cluster receives every alert, as Prometheus sends to each.
    let urls: [String]
    /// How long a firing alert stays valid without a re-send: Prometheus uses four times the
    /// larger of its resend delay and the evaluation interval.
    let validFor: Duration
    /// Extra headers on every request (`X-Scope-OrgID` for Mimir or Grafana Cloud).
    let headers: [(name: String, value: String)]
    let http: HTTPClient

    /// `url` is Alertmanager's base URL (`http://alertmanager:9093`, with any route prefix).
    public init(name: String, url: String, validFor: Duration = .seconds(240), http: HTTPClient) {
        self.init(name: name, urls: [url], validFor: validFor, http: http)
    }

    /// Several Alertmanagers (a cluster's replicas): each receives every alert; the delivery
    /// counts as done when one accepts it, as Prometheus counts it.
    public init(name: String, urls: [String], validFor: Duration = .seconds(240), headers: [(name: String, value: String)] = [], http: HTTPClient) {
        self.name = name
        self.urls = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.validFor = validFor
        self.headers = headers
        self.http = http
    }

    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let alert = Self.alert(try Finding.decode(body), at: time, validFor: validFor)
        let json = try JSONSerialization.data(withJSONObject: [alert], options: [.sortedKeys, .withoutEscapingSlashes])
        var first: Result<HTTPResponse, HTTPError>?
        var accepted: Result<HTTPResponse, HTTPError>?
        for url in urls {
            let result = try await http.postSecret(url + "/api/v2/alerts", json: Array(json), headers: [("User-Agent", "meshwatchd")] + headers)
            if case .success(let response) = result, (200..<300).contains(response.status), accepted == nil { accepted = result }
            if first == nil { first = result }
        }
        return accepted ?? first ?? .failure(HTTPError(kind: .invalidRequest, endpoint: "", message: "no Alertmanager URL"))
    }

    /// One `postableAlert`. Labels are the alert's (with `alertname`); `startsAt` is when it
    /// fired, as Prometheus sets it. The finding's links become `<name>_url` annotations (a
    /// `runbook` link is kube-prometheus's `runbook_url`), and its evidence and remediation
    /// annotations, unless the rule set annotations of those names itself.
    static func alert(_ finding: Finding, at time: Date, validFor: Duration) -> [String: Any] {
        let alert = finding.alert
        let endsAt = finding.kind == .resolved ? (alert.resolvedAt ?? time) : time.addingTimeInterval(validFor.seconds)
        var labels = alert.labels
        labels["alertname"] = alert.name
        var annotations = alert.annotations
        for (name, link) in finding.links {
            let key = name.hasSuffix("_url") ? name : name + "_url"
            if annotations[key] == nil { annotations[key] = link }
        }
        if !finding.evidence.isEmpty, annotations["evidence"] == nil {
            annotations["evidence"] = String(finding.evidence.joined(separator: "\n").prefix(4096))
        }
        if let remediation = finding.remediation, annotations["remediation"] == nil { annotations["remediation"] = remediation }
        var object: [String: Any] = [
            "labels": labels, "annotations": annotations,
            "startsAt": Finding.timestamp(alert.firedAt ?? alert.activeAt), "endsAt": Finding.timestamp(endsAt),
        ]
        if let generatorURL = alert.generatorURL { object["generatorURL"] = generatorURL }
        return object
    }
}
