import Foundation
import MeshHTTP

/// Alertmanager's API v2: `POST /api/v2/alerts` with the alert as Prometheus sends it, so
/// existing routes, inhibitions, silences and receivers keep working. Like Prometheus, the
/// alert is re-sent while it fires (the sink's repeat interval, a minute by default) with
/// `endsAt` a few intervals ahead, so Alertmanager resolves it by itself should meshwatchd
/// stop; a resolve sends `endsAt` = the resolve time.
public struct AlertmanagerSink: FindingSink {
    public let name: String
    let url: String
    /// How long a firing alert stays valid without a re-send: Prometheus uses four times the
    /// larger of its resend delay and the evaluation interval.
    let validFor: Duration
    let http: HTTPClient

    /// `url` is Alertmanager's base URL (`http://alertmanager:9093`, with any route prefix).
    public init(name: String, url: String, validFor: Duration = .seconds(240), http: HTTPClient) {
        self.name = name
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.validFor = validFor
        self.http = http
    }

    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let alert = Self.alert(try Finding.decode(body), at: time, validFor: validFor)
        let json = try JSONSerialization.data(withJSONObject: [alert], options: [.sortedKeys, .withoutEscapingSlashes])
        return try await http.postSecret(url + "/api/v2/alerts", json: Array(json), headers: [("User-Agent", "meshwatchd")])
    }

    /// One `postableAlert`. Labels are the alert's (with `alertname`); `startsAt` is when it
    /// fired, as Prometheus sets it.
    static func alert(_ finding: Finding, at time: Date, validFor: Duration) -> [String: Any] {
        let alert = finding.alert
        let endsAt = finding.kind == .resolved ? (alert.resolvedAt ?? time) : time.addingTimeInterval(validFor.seconds)
        var labels = alert.labels
        labels["alertname"] = alert.name
        var object: [String: Any] = [
            "labels": labels, "annotations": alert.annotations,
            "startsAt": Finding.timestamp(alert.firedAt ?? alert.activeAt), "endsAt": Finding.timestamp(endsAt),
        ]
        if let generatorURL = alert.generatorURL { object["generatorURL"] = generatorURL }
        return object
    }
}
