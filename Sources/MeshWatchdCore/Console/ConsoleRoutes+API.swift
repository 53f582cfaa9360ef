import Foundation
import Hummingbird
import Incidents
import MetricModel

/// The operator's JSON API: acknowledge, and list, add and expire silences (what the CLI calls).
extension Console {
    // MARK: - API

    func jsonBody(_ request: Request) async -> [String: Any]? {
        guard let text = await body(request), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        return object
    }

    func acknowledgeAPI(_ request: Request) async -> Response {
        let principal = principal(request)
        if let refused = checkAction(request, principal: principal, csrf: request.headers[HTTPField.Name("X-CSRF-Token")!], api: true) { return refused }
        guard let object = await jsonBody(request), let key = object["alert"] as? String else {
            return Self.apiError(.badRequest, "bad_data", "expected {\"alert\": \"<group>/<fingerprint>\", \"comment\": \"…\"}")
        }
        do {
            let acknowledgement = try await actions!.acknowledge(alertKey: key, by: principal!.name, comment: object["comment"] as? String ?? "")
            return Self.json(["status": "success", "data": ["alert": key, "by": acknowledgement.by, "at": Finding.timestamp(acknowledgement.at)]])
        } catch {
            return Self.apiError(HTTPResponse.Status(code: error.status), error.status == 404 ? "not_found" : "bad_data", error.description)
        }
    }

    static func silenceObject(_ silence: Silence, at time: Date) -> [String: Any] {
        var object: [String: Any] = [
            "id": silence.id, "matchers": silence.matchers, "startsAt": Finding.timestamp(silence.startsAt),
            "endsAt": Finding.timestamp(silence.endsAt), "createdBy": silence.createdBy, "comment": silence.comment,
            "status": ["state": silence.status(at: time)],
        ]
        if let by = silence.expiredBy { object["expiredBy"] = by }
        return object
    }

    func silencesAPI(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.evidence, principal: principal, host: request.head.authority) else { return Self.apiError(.unauthorized, "unauthorized", "send a token (web.tokens)") }
        let now = Date()
        return Self.json(["status": "success", "data": (await actions?.silences() ?? []).map { Self.silenceObject($0, at: now) }])
    }

    func addSilenceAPI(_ request: Request) async -> Response {
        let principal = principal(request)
        if let refused = checkAction(request, principal: principal, csrf: request.headers[HTTPField.Name("X-CSRF-Token")!], api: true) { return refused }
        guard let object = await jsonBody(request), let matchers = object["matchers"] as? [String] else {
            return Self.apiError(.badRequest, "bad_data", "expected {\"matchers\": [\"name=\\\"value\\\"\", …], \"endsAt\" or \"duration\", \"comment\"}")
        }
        let now = Date()
        let startsAt = (object["startsAt"] as? String).flatMap(Finding.parseTimestamp)
        var endsAt = (object["endsAt"] as? String).flatMap(Finding.parseTimestamp)
        if endsAt == nil, let text = object["duration"] as? String, let duration = PrometheusDuration.parse(text), duration > .zero {
            endsAt = (startsAt ?? now).addingTimeInterval(duration.seconds)
        }
        guard let endsAt else { return Self.apiError(.badRequest, "bad_data", "expected endsAt (RFC 3339) or duration (such as 2h)") }
        do {
            let silence = try await actions!.addSilence(matchers: matchers, startsAt: startsAt, endsAt: endsAt, createdBy: principal!.name,
                                                        comment: object["comment"] as? String ?? "")
            return Self.json(["status": "success", "data": ["silenceID": silence.id]])
        } catch {
            return Self.apiError(HTTPResponse.Status(code: error.status), "bad_data", error.description)
        }
    }

    func expireSilenceAPI(_ request: Request, id: String) async -> Response {
        let principal = principal(request)
        if let refused = checkAction(request, principal: principal, csrf: request.headers[HTTPField.Name("X-CSRF-Token")!], api: true) { return refused }
        do {
            let silence = try await actions!.expireSilence(id: id, by: principal!.name)
            return Self.json(["status": "success", "data": Self.silenceObject(silence, at: Date())])
        } catch {
            return Self.apiError(HTTPResponse.Status(code: error.status), error.status == 404 ? "not_found" : "bad_data", error.description)
        }
    }
}
