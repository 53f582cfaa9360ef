import AlertEngine
import Foundation
import Hummingbird
import Incidents
import Logging
import MeshHTTP
import MetricModel
import Remediation

/// HTTPTypes' field, reached through the collection Hummingbird exports.
typealias HTTPField = HTTPFields.Element

/// The status page and the operator's API on the status listener (see `WebAccess` for who may
/// see and do what).
struct Console: Sendable {
    let status: DaemonStatus
    let store: StateStore?
    let actions: OperatorActions?
    let access: WebAccess
    /// The path of the page's external URL (`/meshwatchd`), or "": links start with it, and the
    /// pages answer both with and without it (behind a proxy that strips it or not).
    let base: String
    /// Prometheus's external URL (or its API URL) for "Open in Prometheus" links.
    let prometheusURL: String
    let runbooks: @Sendable () -> [Runbook]
    let logger: Logger

    static let maxForm = 64 << 10

    func register(on router: Router<BasicRequestContext>) {
        let prefixes = base.isEmpty ? [""] : ["", base]
        for prefix in prefixes {
            let path = { (suffix: String) in RouterPath(prefix + suffix) }
            router.get(path("/")) { request, _ in await self.alertsPage(request) }
            router.get(path("/alert")) { request, _ in await self.alertPage(request) }
            router.post(path("/alert")) { request, _ in await self.acknowledgeForm(request) }
            router.get(path("/findings")) { request, _ in await self.findingsPage(request) }
            router.get(path("/finding")) { request, _ in await self.findingPage(request) }
            router.get(path("/ledger")) { request, _ in await self.ledgerPage(request) }
            router.get(path("/rules")) { request, _ in await self.rulesPage(request) }
            router.get(path("/runbooks")) { request, _ in await self.runbooksPage(request) }
            router.get(path("/silences")) { request, _ in await self.silencesPage(request) }
            router.post(path("/silences")) { request, _ in await self.silenceForm(request) }
            router.get(path("/login")) { request, _ in self.loginPage(request) }
            router.post(path("/login")) { request, _ in await self.login(request) }
            router.post(path("/logout")) { request, _ in await self.logout(request) }
        }
        router.post("/api/v1/acknowledgements") { request, _ in await self.acknowledgeAPI(request) }
        router.get("/api/v1/silences") { request, _ in await self.silencesAPI(request) }
        router.post("/api/v1/silences") { request, _ in await self.addSilenceAPI(request) }
        router.delete("/api/v1/silence/:id") { request, context in
            await self.expireSilenceAPI(request, id: context.parameters.get("id") ?? "")
        }
    }

    // MARK: - Requests

    func principal(_ request: Request) -> WebAccess.Principal? {
        access.principal(authorization: request.headers[.authorization], cookie: request.headers[.cookie])
    }

    func context(_ request: Request, principal: WebAccess.Principal?) -> ConsolePages.Context {
        var csrf: String?
        if case .session(let token)? = principal?.via { csrf = token }
        return ConsolePages.Context(base: base, user: principal?.name, csrf: csrf, canAct: principal != nil && actions != nil,
                                    loginAvailable: !access.users.isEmpty, showsEvidence: access.mayRead(.evidence, principal: principal, host: request.head.authority), now: Date())
    }

    static func query(_ request: Request) -> [String: String] {
        form(request.uri.query ?? "")
    }

    /// `application/x-www-form-urlencoded` (and a query string): `+` is a space, the rest percent-decoded.
    static func form(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }

    func body(_ request: Request) async -> String? {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: Self.maxForm) else { return nil }
        return String(buffer: buffer)
    }

    /// A path of this site to return to after the login: `/` then not `/` or `\`, printable ASCII
    /// only (a tab or a newline that a browser drops would turn `/\t/evil` into `//evil`).
    static func isLocalPath(_ path: String) -> Bool {
        let scalars = Array(path.unicodeScalars)
        guard scalars.first == "/", scalars.count < 2048 else { return false }
        if scalars.count > 1 && (scalars[1] == "/" || scalars[1] == "\\") { return false }
        return scalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" }
    }

    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    static func html(_ body: String, status: HTTPResponse.Status = .ok, cookie: String? = nil) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var headers = securityHeaders
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func apiError(_ status: HTTPResponse.Status, _ type: String, _ message: String) -> Response {
        json(["status": "error", "errorType": type, "error": message], status: status)
    }

    /// A page this request may not read: the login page when logging in is possible, else 403.
    func refuseRead(_ request: Request, principal: WebAccess.Principal?) -> Response {
        if !access.users.isEmpty {
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Self.redirect(base + "/login?next=" + ConsolePages.q(next))
        }
        return Self.html(ConsolePages.problem("Not allowed", "This listener is not loopback-only: reading this needs a login or a token (web.users, web.tokens).",
                                              context(request, principal: principal)), status: .forbidden)
    }

    /// Whether a request may act; the refusal's response when not.
    func checkAction(_ request: Request, principal: WebAccess.Principal?, csrf: String?, api: Bool) -> Response? {
        let refusal = access.mayAct(principal: principal, csrf: csrf, origin: request.headers[.origin],
                                    host: request.headers[HTTPField.Name("X-Forwarded-Host")!] ?? request.head.authority,
                                    forwardedProto: request.headers[HTTPField.Name("X-Forwarded-Proto")!])
        guard let refusal else {
            guard actions != nil else {
                return api ? Self.apiError(.serviceUnavailable, "unavailable", "actions are not available in this process")
                    : Self.html(ConsolePages.problem("Not available", "Actions are not available in this process.", context(request, principal: principal)),
                                status: .serviceUnavailable)
            }
            return nil
        }
        logger.warning("action refused", metadata: ["http.path": "\(request.uri.path)", "reason": "\(refusal)", "user.name": "\(principal?.name ?? "")"])
        let status: HTTPResponse.Status = refusal == .notLoggedIn ? .unauthorized : .forbidden
        if api { return Self.apiError(status, refusal == .notLoggedIn ? "unauthorized" : "forbidden", refusal.description) }
        return Self.html(ConsolePages.problem("Refused", refusal.description, context(request, principal: principal)), status: status)
    }

    // MARK: - Alerts

    func alertRows() async -> [ConsolePages.AlertRow] {
        let records = actions?.planner.records ?? [:]
        let silences = (actions?.planner.silences ?? []).filter { $0.isActive(at: Date()) }
        var rows: [ConsolePages.AlertRow] = []
        for group in await status.groupStates {
            guard let state = group.state else { continue }
            for rule in state.rules where rule.rule.kind == .alerting {
                for instance in rule.active.values where instance.state != .inactive {
                    let key = NotificationPlanner.alertKey(group: group.name, fingerprint: instance.fingerprint)
                    var labels = Dictionary(instance.labels.map { ($0.name, $0.value) }) { first, _ in first }
                    labels["alertname"] = labels["alertname"] ?? rule.rule.name
                    rows.append(.init(key: key, group: group.name, rule: rule.rule.name, instance: instance,
                                      acknowledgement: records[key]?.acknowledgement,
                                      silencedBy: silences.filter { $0.matches(labels) }.map(\.id)))
                }
            }
        }
        // The daemon's own alerts (the datasource down) live in their records.
        for (key, record) in records where record.group == NotificationPlanner.ownGroup {
            guard let stored = record.instance else { continue }
            let instance = AlertInstance(labels: Labels(stored.labels), annotations: Labels(stored.annotations), state: .firing, value: 1,
                                         activeAt: record.activeAt, firedAt: record.firedAt)
            rows.append(.init(key: key, group: record.group, rule: record.rule, instance: instance, acknowledgement: record.acknowledgement,
                              silencedBy: silences.filter { $0.matches(stored.labels) }.map(\.id)))
        }
        return rows.sorted { ($0.rule, $0.key) < ($1.rule, $1.key) }
    }

    func datasource() async -> ConsolePages.Datasource {
        let states = await status.groupStates.compactMap(\.state)
        let rules = states.flatMap(\.rules)
        let reachable: Bool? = states.isEmpty || states.allSatisfy({ $0.lastEvaluation == nil }) ? nil
            : (rules.isEmpty || rules.contains { $0.health != .err })
        return .init(url: prometheusURL, reachable: reachable, lastEvaluation: states.compactMap(\.lastEvaluation).max(),
                     error: rules.compactMap(\.lastError).first)
    }

    func alertsPage(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.alertLists, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        if await status.following {
            return Self.html(ConsolePages.problem("Following", "This replica follows; the leader's page is not known yet (the Lease names no leader URL).",
                                                  context(request, principal: principal)), status: .serviceUnavailable)
        }
        return Self.html(ConsolePages.alerts(await alertRows(), datasource: await datasource(), notice: nil, context(request, principal: principal)))
    }

    func alertPage(_ request: Request, notice: String? = nil, error: String? = nil) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.alertLists, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        let key = Self.query(request)["key"] ?? ""
        let context = context(request, principal: principal)
        guard let row = await alertRows().first(where: { $0.key == key }) else {
            // Resolved (or never seen): its findings remain.
            let findings = context.showsEvidence ? ((try? await store?.perform { try $0.findings(alertKey: key, limit: 50) }) ?? []) : []
            let body = ConsolePages.message(notice) + ConsolePages.message(error ?? "This alert is not active now.", error: error != nil)
                + (context.showsEvidence ? "<h2>Findings</h2>" + ConsolePages.findingTable(findings, context) : "")
            return Self.html(ConsolePages.page("Alert \(key)", context, body), status: findings.isEmpty && error == nil ? .notFound : .ok)
        }
        var expression: String?
        for group in await status.groupStates where group.name == row.group {
            expression = (group.state ?? group.configured)?.rules.first { $0.rule.name == row.rule }?.rule.expression
        }
        let graph = expression.flatMap { prometheusURL.isEmpty ? nil : NotificationSettings.generatorURL(externalURL: prometheusURL, expression: $0) }
        var labels = Dictionary(row.instance.labels.map { ($0.name, $0.value) }) { first, _ in first }
        labels["alertname"] = labels["alertname"] ?? row.rule
        let silences = (actions?.planner.silences ?? []).filter { $0.isActive(at: Date()) && $0.matches(labels) }
        let findings = context.showsEvidence ? ((try? await store?.perform { try $0.findings(alertKey: key, limit: 50) }) ?? []) : []
        return Self.html(ConsolePages.alert(row, expression: expression, graphLink: graph, silences: silences, findings: findings,
                                            notice: notice, error: error, context))
    }

    func acknowledgeForm(_ request: Request) async -> Response {
        let principal = principal(request)
        let key = Self.query(request)["key"] ?? ""
        guard Self.query(request)["action"] == "acknowledge", let text = await body(request) else {
            return Self.html(ConsolePages.problem("Bad request", "expected an acknowledge form", context(request, principal: principal)), status: .badRequest)
        }
        let fields = Self.form(text)
        if let refused = checkAction(request, principal: principal, csrf: fields["csrf"], api: false) { return refused }
        do {
            try await actions!.acknowledge(alertKey: key, by: principal!.name, comment: fields["comment"] ?? "")
            return Self.redirect(base + ConsolePages.alertPath(key))
        } catch {
            return await alertPage(request, error: error.description)
        }
    }

    // MARK: - Findings, ledger, rules, runbooks

    func findingsPage(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.evidence, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        let findings = (try? await store?.perform { try $0.findings(limit: 100) }) ?? []
        return Self.html(ConsolePages.findings(findings, context(request, principal: principal)))
    }

    func findingPage(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.evidence, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        let id = Self.query(request)["id"] ?? ""
        guard let stored = (try? await store?.perform { try $0.finding(id: id) }) ?? nil else {
            return Self.html(ConsolePages.problem("Not found", "No finding \(id) (findings are kept 35 days).", context(request, principal: principal)),
                             status: .notFound)
        }
        return Self.html(ConsolePages.finding(stored, context(request, principal: principal)))
    }

    func ledgerPage(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.evidence, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        let since = Date().addingTimeInterval(-35 * 86400)
        let entries = (try? await store?.perform { try $0.ledger(since: since) }) ?? []
        return Self.html(ConsolePages.ledger(Array(entries.suffix(500)), context(request, principal: principal)))
    }

    func rulesPage(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.alertLists, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        var rows: [ConsolePages.RuleRow] = []
        for group in await status.groupStates {
            guard let state = group.state ?? group.configured else { continue }
            for rule in state.rules {
                rows.append(.init(group: group.name, name: rule.rule.name, kind: rule.rule.kind == .alerting ? "alert" : "record",
                                  expression: rule.rule.expression, health: rule.health.rawValue, lastError: rule.lastError,
                                  lastEvaluation: rule.lastEvaluation, active: rule.active.values.filter { $0.state != .inactive }.count))
            }
        }
        return Self.html(ConsolePages.rules(rows, context(request, principal: principal)))
    }

    func runbooksPage(_ request: Request) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.evidence, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        return Self.html(ConsolePages.runbooks(runbooks(), context(request, principal: principal)))
    }

    // MARK: - Silences

    func silencesPage(_ request: Request, notice: String? = nil, error: String? = nil, prefill: String? = nil) async -> Response {
        let principal = principal(request)
        guard access.mayRead(.evidence, principal: principal, host: request.head.authority) else { return refuseRead(request, principal: principal) }
        let silences = await actions?.silences() ?? []
        return Self.html(ConsolePages.silences(silences, prefill: prefill ?? Self.query(request)["matchers"] ?? "", notice: notice, error: error,
                                               context(request, principal: principal)),
                         status: error == nil ? .ok : .badRequest)
    }

    func silenceForm(_ request: Request) async -> Response {
        let principal = principal(request)
        guard let text = await body(request) else {
            return Self.html(ConsolePages.problem("Bad request", "the form is too large", context(request, principal: principal)), status: .badRequest)
        }
        let fields = Self.form(text)
        if let refused = checkAction(request, principal: principal, csrf: fields["csrf"], api: false) { return refused }
        let query = Self.query(request)
        do {
            if query["action"] == "expire" {
                let silence = try await actions!.expireSilence(id: query["id"] ?? "", by: principal!.name)
                return await silencesPage(request, notice: "Silence \(silence.id) expired.")
            }
            let matchers = (fields["matchers"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard let duration = PrometheusDuration.parse(fields["duration"] ?? ""), duration > .zero else {
                return await silencesPage(request, error: "duration: expected a duration such as 2h or 30m", prefill: fields["matchers"])
            }
            let silence = try await actions!.addSilence(matchers: matchers, startsAt: nil, endsAt: Date().addingTimeInterval(duration.seconds),
                                                        createdBy: principal!.name, comment: fields["comment"] ?? "")
            return Self.redirect(base + "/silences#silence-" + silence.id)
        } catch {
            return await silencesPage(request, error: error.description, prefill: fields["matchers"])
        }
    }

    // MARK: - Login

    func loginPage(_ request: Request, error: String? = nil) -> Response {
        let principal = principal(request)
        guard !access.users.isEmpty else {
            return Self.html(ConsolePages.problem("No users", "No user is configured (web.users).", context(request, principal: principal)), status: .notFound)
        }
        return Self.html(ConsolePages.login(error: error, next: Self.query(request)["next"] ?? base + "/", context(request, principal: principal)),
                         status: error == nil ? .ok : .unauthorized)
    }

    func login(_ request: Request) async -> Response {
        guard let text = await body(request) else { return loginPage(request, error: "the form is too large") }
        let fields = Self.form(text)
        // A login is a write too: from this page only (no login CSRF).
        let origin = request.headers[.origin].flatMap(WebAccess.origin(ofURL:))
        let host = request.headers[HTTPField.Name("X-Forwarded-Host")!] ?? request.head.authority ?? ""
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https" ? "https" : "http"
        guard let origin, origin == (access.externalOrigin ?? "\(scheme)://\(host.lowercased())") else {
            return loginPage(request, error: "the login does not come from this page (Origin)")
        }
        let session: WebAccess.Session
        switch await access.checkLogin(user: fields["user"] ?? "", password: fields["password"] ?? "") {
        case .session(let made): session = made
        case .busy:
            logger.warning("login refused: too many password checks waiting", metadata: ["user.name": "\(String((fields["user"] ?? "").prefix(64)))"])
            return Self.html(ConsolePages.problem("Busy", "Too many logins at once; try again in a moment.", context(request, principal: nil)),
                             status: .tooManyRequests)
        case .refused:
            logger.warning("login failed", metadata: ["user.name": "\(String((fields["user"] ?? "").prefix(64)))"])
            try? await Task.sleep(for: .seconds(1))  // slows guessing
            return loginPage(request, error: "wrong user or password")
        }
        logger.info("logged in", metadata: ["user.name": "\(session.user)"])
        var next = fields["next"] ?? base + "/"
        if !Self.isLocalPath(next) { next = base + "/" }
        return Self.redirect(next, cookie: access.cookie(for: session))
    }

    func logout(_ request: Request) async -> Response {
        let principal = principal(request)
        let fields = Self.form(await body(request) ?? "")
        if let refused = checkAction(request, principal: principal, csrf: fields["csrf"], api: false), principal != nil { return refused }
        access.logout(cookie: request.headers[.cookie])
        return Self.redirect(base + "/", cookie: access.cookie(for: nil))
    }
}
