import Foundation
import MetricModel
import MeshHTTP
import Synchronization

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
    /// The `message` annotation, when the sink has a template of its own.
    var template: MessageTemplate?
    /// `<url> <silence id>` of the silences known to be in each Alertmanager already.
    private let forwarded = ForwardedSilences()

    /// `url` is Alertmanager's base URL (`http://alertmanager:9093`, with any route prefix).
    public init(name: String, url: String, validFor: Duration = .seconds(240), http: HTTPClient) {
        self.init(name: name, urls: [url], validFor: validFor, http: http)
    }

    /// Several Alertmanagers (a cluster's replicas): each receives every alert; the delivery
    /// counts as done when one accepts it, as Prometheus counts it.
    public init(name: String, urls: [String], validFor: Duration = .seconds(240), headers: [(name: String, value: String)] = [],
                template: MessageTemplate? = nil, http: HTTPClient) {
        self.template = template
        self.name = name
        self.urls = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.validFor = validFor
        self.headers = headers
        self.http = http
    }

    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let finding = try Finding.decode(body)
        let alert = Self.alert(finding, at: time, validFor: validFor, template: template)
        let json = alert.body
        var first: Result<HTTPResponse, HTTPError>?
        var accepted: Result<HTTPResponse, HTTPError>?
        for url in urls {
            // A silenced alert goes with its silence, and the silence first: an Alertmanager that
            // has the alert but not the silence would notify.
            if finding.kind != .resolved, let silences = forwarded.current(finding.silences ?? [], at: time), !silences.isEmpty {
                if case .failure(let failure) = try await forward(silences, to: url, at: time) {
                    if first == nil { first = .failure(failure) }
                    continue
                }
            }
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
    static func alert(_ finding: Finding, at time: Date, validFor: Duration, template: MessageTemplate? = nil) -> PostableAlert {
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
        if annotations["message"] == nil, let message = template?.render(finding) { annotations["message"] = message }
        if let acknowledgement = finding.acknowledgement, annotations["acknowledged_by"] == nil {
            annotations["acknowledged_by"] = acknowledgement.line
        }
        return PostableAlert(labels: labels, annotations: annotations, startsAt: Finding.timestamp(alert.firedAt ?? alert.activeAt),
                             endsAt: Finding.timestamp(endsAt), generatorURL: alert.generatorURL)
    }

    /// Alertmanager's `postableAlert`, as `POST /api/v2/alerts` takes it.
    struct PostableAlert {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        var endsAt: String
        var generatorURL: String?

        /// The request's body, a list of this one alert: compact JSON, keys sorted, written by
        /// hand (`JSONSerialization` cost about a million instructions per alert).
        var body: [UInt8] {
            var out: [UInt8] = Array("[{".utf8)
            out.reserveCapacity(1024)
            JSONText.appendKey("annotations", to: &out)
            JSONText.appendObject(annotations.lazy.map { ($0.key, $0.value) }, to: &out)
            JSONText.appendKey("endsAt", to: &out)
            JSONText.appendString(endsAt, to: &out)
            if let generatorURL {
                JSONText.appendKey("generatorURL", to: &out)
                JSONText.appendString(generatorURL, to: &out)
            }
            JSONText.appendKey("labels", to: &out)
            JSONText.appendObject(labels.lazy.map { ($0.key, $0.value) }, to: &out)
            JSONText.appendKey("startsAt", to: &out)
            JSONText.appendString(startsAt, to: &out)
            out.append(contentsOf: "}]".utf8)
            return out
        }
    }
}

// MARK: - Silences

extension AlertmanagerSink {
    /// Makes sure each silence is in the Alertmanager at `url`: a silence meshwatchd forwarded
    /// carries `[meshwatchd silence <id>]` in its comment and is found by it, so a re-send (or a
    /// second replica) never posts it twice.
    func forward(_ silences: [Silence], to url: String, at time: Date) async throws -> Result<Void, HTTPError> {
        let missing = silences.filter { !forwarded.contains(url + " " + $0.id, at: time) && $0.endsAt > time }
        guard !missing.isEmpty else { return .success(()) }
        let existing: [[String: Any]]
        switch try await listSilences(url) {
        case .success(let list): existing = list
        case .failure(let error): return .failure(error)
        }
        for silence in missing {
            let tag = "[meshwatchd silence \(silence.id)]"
            let present = existing.contains { entry in
                ((entry["comment"] as? String) ?? "").hasSuffix(tag)
                    && ((entry["status"] as? [String: Any])?["state"] as? String) != "expired"
            }
            if !present {
                let body = try JSONSerialization.data(withJSONObject: Self.postableSilence(silence, at: time), options: [.sortedKeys])
                let result = try await http.postSecret(url + "/api/v2/silences", json: Array(body), headers: [("User-Agent", "meshwatchd")] + headers)
                switch result {
                case .failure(let error): return .failure(error)
                case .success(let response) where !response.isSuccess:
                    return .failure(HTTPError(kind: .status, endpoint: response.endpoint, message: "Alertmanager refused the silence",
                                              status: response.status, bodyExcerpt: String(decoding: response.body.prefix(300), as: UTF8.self)))
                case .success: break
                }
            }
            forwarded.insert(url + " " + silence.id, at: time)
        }
        return .success(())
    }

    /// Expires, in every Alertmanager of the sink, the silence meshwatchd forwarded for `id`
    /// (an early expiry; one that runs out expires there by itself). Returns the errors met.
    public func expireForwarded(silenceID id: String) async -> [String] {
        var errors: [String] = []
        for url in urls {
            forwarded.remove(url + " " + id)
            do {
                guard case .success(let list) = try await listSilences(url) else {
                    errors.append("\(name): cannot list the silences of an Alertmanager")
                    continue
                }
                for entry in list where ((entry["comment"] as? String) ?? "").hasSuffix("[meshwatchd silence \(id)]") {
                    guard let amID = entry["id"] as? String, ((entry["status"] as? [String: Any])?["state"] as? String) != "expired",
                          let escaped = amID.addingPercentEncoding(withAllowedCharacters: .alphanumerics) else { continue }
                    var request = HTTPRequest(method: .delete, url: url + "/api/v2/silence/" + escaped, urlIsSecret: true)
                    request.headers += [("User-Agent", "meshwatchd")] + headers
                    let response = try await http.execute(request)
                    if !response.isSuccess { errors.append("\(name): Alertmanager answered \(response.status) to the expiry") }
                }
            } catch {
                errors.append("\(name): \(error)")
            }
        }
        return errors
    }

    private func listSilences(_ url: String) async throws -> Result<[[String: Any]], HTTPError> {
        var request = HTTPRequest(url: url + "/api/v2/silences", urlIsSecret: true)
        request.headers += [("User-Agent", "meshwatchd")] + headers
        let response: HTTPResponse
        do { response = try await http.execute(request) } catch let error as HTTPError { return .failure(error) }
        guard response.isSuccess, let list = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [[String: Any]] else {
            return .failure(HTTPError(kind: .status, endpoint: response.endpoint, message: "cannot read Alertmanager's silences",
                                      status: response.status))
        }
        return .success(list)
    }

    /// Alertmanager's `postableSilence`: matchers split into name, value, isRegex, isEqual.
    static func postableSilence(_ silence: Silence, at time: Date) -> [String: Any] {
        let matchers: [[String: Any]] = silence.matchers.compactMap { text in
            guard let matcher = try? LabelMatcher(parsing: text) else { return nil }
            return ["name": matcher.name, "value": matcher.value,
                    "isRegex": matcher.kind == .regex || matcher.kind == .notRegex,
                    "isEqual": matcher.kind == .equal || matcher.kind == .regex]
        }
        return ["matchers": matchers, "startsAt": Finding.timestamp(max(silence.startsAt, time)), "endsAt": Finding.timestamp(silence.endsAt),
                "createdBy": silence.createdBy, "comment": silence.forwardedComment]
    }
}

/// The silences already forwarded, per Alertmanager URL, each trusted for `recheck` (then looked
/// up again: an Alertmanager restarted without its data, or a silence deleted there, gets it
/// again), and where the sink learns which silences are in force now.
final class ForwardedSilences: Sendable {
    static let recheck: TimeInterval = 300
    private let keys = Mutex<[String: Date]>([:])
    private let source = Mutex<(@Sendable () -> [Silence])?>(nil)

    func contains(_ key: String, at time: Date) -> Bool {
        keys.withLock { keys in keys[key].map { time.timeIntervalSince($0) < Self.recheck } ?? false }
    }

    func insert(_ key: String, at time: Date) {
        keys.withLock { keys in
            keys = keys.filter { time.timeIntervalSince($0.value) < Self.recheck }
            keys[key] = time
        }
    }

    func remove(_ key: String) { keys.withLock { _ = $0.removeValue(forKey: key) } }

    func follow(_ silences: @escaping @Sendable () -> [Silence]) { source.withLock { $0 = silences } }

    /// Of the silences a queued finding carried, those still in force now, as they are now (one
    /// expired since the finding was queued is not forwarded again); all of them while no source is set.
    func current(_ queued: [Silence], at time: Date) -> [Silence]? {
        guard !queued.isEmpty else { return nil }
        guard let source = source.withLock({ $0 }) else { return queued.filter { $0.endsAt > time } }
        let ids = Set(queued.map(\.id))
        return source().filter { ids.contains($0.id) && $0.isActive(at: time) }
    }
}

extension AlertmanagerSink {
    /// Forwards only the silences `silences` says are in force at send time (the planner's).
    public func follow(silences: @escaping @Sendable () -> [Silence]) { forwarded.follow(silences) }
}
