import Foundation
import AlertModel
import Logging
import MeshHTTP
import Incidents
import MeshFixtures
import MetricModel
@testable import MeshWatchdCore
import Remediation
import Testing

/// Who may see and do what on the status page, and the page's escaping.
@Suite("Web access: passwords, tokens, sessions, CSRF, Origin; the page escapes what it shows")
struct WebAccessTests {
    static let hash = WebAccess.bcrypt("s3cret pass", cost: 4)!

    func access(loopback: Bool, anonymous: Bool = false, external: String? = nil) -> WebAccess {
        WebAccess(loopbackOnly: loopback, anonymousAlertLists: anonymous, users: [.init(name: "alice", passwordHash: Self.hash)],
                  tokens: [(name: "ci", token: "tok-0123456789abcdef")], sessionTimeout: .seconds(60), externalURL: external)
    }

    @Test("libcrypt's hashes: bcrypt from hash-password and htpasswd ($2y$), SHA-512 crypt; a wrong password or unknown hash never matches")
    func passwords() throws {
        #expect(Self.hash.hasPrefix("$2b$04$"))
        let web = access(loopback: false)
        #expect(web.login(user: "alice", password: "s3cret pass") != nil)
        #expect(web.login(user: "alice", password: "s3cret pas") == nil)
        #expect(web.login(user: "bob", password: "s3cret pass") == nil)
        #expect(web.login(user: "alice", password: "s3cret pass\0tail") == nil)
        // A $2y$ hash (htpasswd's bcrypt) and a SHA-512 crypt one (`openssl passwd -6 -salt saltsalt s3cret`), both of "s3cret".
        for hash in ["$2y$05$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK",
                     "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"] {
            #expect(WebAccess.isKnownHash(hash), "\(hash)")
            let other = WebAccess(loopbackOnly: true, users: [.init(name: "bob", passwordHash: hash)])
            #expect(other.login(user: "bob", password: "s3cret") != nil && other.login(user: "bob", password: "s3creT") == nil, "\(hash)")
        }
        #expect(!WebAccess.isKnownHash("plain-password") && !WebAccess.isKnownHash("") && !WebAccess.isKnownHash("$2b$04$short"))
        // A plain "hash" never lets anyone in, whatever they type.
        let plain = WebAccess(loopbackOnly: true, users: [.init(name: "eve", passwordHash: "plain-password")])
        #expect(plain.login(user: "eve", password: "plain-password") == nil)
    }

    @Test("password checks run one at a time off the cooperative threads; past eight waiting, a login is refused as busy, not queued")
    func loginFlood() async throws {
        // A few hundred milliseconds per check; hashed off the cooperative threads other tests need.
        let slow = try #require(await offPool { WebAccess.bcrypt("right", cost: 12) })
        let web = WebAccess(loopbackOnly: true, users: [.init(name: "alice", passwordHash: slow)])
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<20 {
                group.addTask {
                    switch await web.checkLogin(user: "alice", password: index == 0 ? "right" : "wrong") {
                    case .session: "session"
                    case .refused: "refused"
                    case .busy: "busy"
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == "busy" }.count >= 20 - WebAccess.maxWaitingLogins, "\(outcomes)")
        #expect(outcomes.filter { $0 != "busy" }.count <= WebAccess.maxWaitingLogins)
        // Once the flood is over, a login is checked again.
        if case .session = await web.checkLogin(user: "alice", password: "right") {} else { Issue.record("the right password is refused after the flood") }
    }

    @Test("reading: everything on loopback; elsewhere alert lists only when allowed, evidence only with a login or token")
    func reading() {
        let open = access(loopback: true)
        #expect(open.mayRead(.evidence, principal: nil) && open.mayRead(.alertLists, principal: nil))
        let closed = access(loopback: false)
        #expect(!closed.mayRead(.alertLists, principal: nil) && !closed.mayRead(.evidence, principal: nil))
        let lists = access(loopback: false, anonymous: true)
        #expect(lists.mayRead(.alertLists, principal: nil) && !lists.mayRead(.evidence, principal: nil))
        let token = closed.principal(authorization: "Bearer tok-0123456789abcdef", cookie: nil)
        #expect(token == WebAccess.Principal(name: "token:ci", via: .token))
        #expect(closed.mayRead(.evidence, principal: token))
        #expect(closed.principal(authorization: "Bearer tok-0123456789abcdeX", cookie: nil) == nil)
        #expect(closed.principal(authorization: "Basic dG9rOg==", cookie: nil) == nil)
    }

    @Test("acting: a token may; a session only with its CSRF token and this page's Origin; sessions expire and log out")
    func acting() throws {
        let web = access(loopback: true)
        #expect(web.mayAct(principal: nil, csrf: nil, origin: nil, host: "127.0.0.1:9819") == .notLoggedIn)
        let session = try #require(web.login(user: "alice", password: "s3cret pass", at: Date()))
        let cookie = "other=1; \(WebAccess.cookieName)=\(session.id)"
        let principal = try #require(web.principal(authorization: nil, cookie: cookie))
        #expect(principal.name == "alice")
        let host = "127.0.0.1:9819"
        #expect(web.mayAct(principal: principal, csrf: session.csrf, origin: "http://127.0.0.1:9819", host: host) == nil)
        #expect(web.mayAct(principal: principal, csrf: "x" + session.csrf.dropFirst(), origin: "http://127.0.0.1:9819", host: host) == .csrf)
        #expect(web.mayAct(principal: principal, csrf: nil, origin: "http://127.0.0.1:9819", host: host) == .csrf)
        for origin in ["http://evil.example", "null", "https://127.0.0.1:9819", "http://127.0.0.1:9820", "http://127.0.0.1:9819.evil.example"] {
            #expect(web.mayAct(principal: principal, csrf: session.csrf, origin: origin, host: host) == .origin, "\(origin)")
        }
        #expect(web.mayAct(principal: principal, csrf: session.csrf, origin: nil, host: host) == .origin)
        // Behind a TLS proxy: the external URL decides.
        let proxied = access(loopback: false, external: "https://ops.example.com/meshwatchd/")
        let second = try #require(proxied.login(user: "alice", password: "s3cret pass"))
        let behind = try #require(proxied.principal(authorization: nil, cookie: "\(WebAccess.cookieName)=\(second.id)"))
        #expect(proxied.mayAct(principal: behind, csrf: second.csrf, origin: "https://ops.example.com", host: "10.0.0.7:9819") == nil)
        #expect(proxied.mayAct(principal: behind, csrf: second.csrf, origin: "https://ops.example.com:443", host: "x") == nil)
        #expect(proxied.mayAct(principal: behind, csrf: second.csrf, origin: "http://ops.example.com", host: "x") == .origin)
        #expect(proxied.cookie(for: second).contains("; HttpOnly; SameSite=Strict; Secure"))
        #expect(web.cookie(for: session).hasSuffix("HttpOnly; SameSite=Strict"))
        // A token needs neither (no cookie, so no cross-site request can carry it).
        #expect(web.mayAct(principal: .init(name: "token:ci", via: .token), csrf: nil, origin: nil, host: nil) == nil)
        // Expiry and logout.
        #expect(web.principal(authorization: nil, cookie: cookie, at: Date().addingTimeInterval(120)) == nil)
        let third = try #require(web.login(user: "alice", password: "s3cret pass"))
        web.logout(cookie: "\(WebAccess.cookieName)=\(third.id)")
        #expect(web.principal(authorization: nil, cookie: "\(WebAccess.cookieName)=\(third.id)") == nil)
    }

    @Test("hostile labels, annotations and evidence are text on the page, never markup; links are built from escaped parts")
    func escaping() throws {
        let hostile = #"<script>alert(1)</script>" onmouseover="x' & \u{0}"#
        let instance = AlertInstance(labels: Labels(["alertname": "A", "pod": hostile]), annotations: Labels(["summary": hostile]),
                                     state: .firing, value: .nan, activeAt: Date(), firedAt: Date())
        let row = ConsolePages.AlertRow(key: "g/<x>&y", group: "g", rule: hostile, instance: instance, acknowledgement: nil, silencedBy: [])
        var context = ConsolePages.Context()
        context.canAct = true
        context.csrf = "abc\"def"
        let pages = [
            ConsolePages.alerts([row], datasource: .init(url: hostile, reachable: false, error: hostile), notice: hostile, context),
            ConsolePages.alert(row, expression: hostile, graphLink: "javascript:alert(1)", silences: [], findings: [], notice: nil, error: hostile, context),
        ]
        for page in pages {
            #expect(!page.contains("<script>") && !page.contains(#"" onmouseover"#) && !page.contains("\u{0}"))
            #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x&#39; &amp;"))
        }
        #expect(pages[1].contains(#"/alert?key=g%2F%3Cx%3E%26y&amp;action=acknowledge"#))
        #expect(pages[1].contains(#"value="abc&quot;def""#))
        #expect(Console.form("a=1+2%2B3&b=%3Cx%3E&a=ignored&c") == ["a": "1 2+3", "b": "<x>", "c": ""])
    }
}

@Suite("The status listener when it is not loopback-only")
struct ExposedListenerTests {
    @Test("probes and metrics open; alert lists, pages, evidence and the API need a login or token; actions always do")
    func exposed() async throws {
        let port = try LoopbackPort.free()
        let access = WebAccess(loopbackOnly: false, users: [.init(name: "alice", passwordHash: WebAccessTests.hash)],
                               tokens: [(name: "ci", token: "tok-0123456789abcdef")])
        let console = Console(status: DaemonStatus(), store: nil, actions: nil, access: access, base: "", prometheusURL: "",
                              runbooks: { [] }, logger: Logger(label: "test"))
        // Bound to loopback here (tests never bind elsewhere); the access rules are those of an exposed listener.
        let app = StatusServer.application(host: "127.0.0.1", port: port, status: DaemonStatus(), store: nil, console: console, logger: Logger(label: "test"))
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let base = "http://127.0.0.1:\(port)"
        let http = HTTPClient()
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(60)) { (try? await http.get(base + "/healthz").status) == 200 })
        func status(_ path: String, method: HTTPRequest.Method = .get, token: Bool = false, body: String? = nil) async throws -> Int {
            try await http.execute(HTTPRequest(method: method, url: base + path, headers: token ? [("Authorization", "Bearer tok-0123456789abcdef")] : [],
                                               body: body.map { Array($0.utf8) })).status
        }
        for path in ["/healthz", "/metrics"] { #expect(try await status(path) == 200, "\(path)") }
        #expect(try await status("/readyz") == 503)  // not ready (nothing configured), but answered
        for path in ["/api/v1/alerts", "/api/v1/rules", "/api/v1/silences"] {
            #expect(try await status(path) == 401, "\(path)")
        }
        for path in ["/", "/rules", "/findings", "/ledger", "/silences", "/runbooks", "/alert?key=g%2F1"] {
            let answer = try await http.execute(HTTPRequest(url: base + path))
            #expect(answer.status == 303 && answer.headers.contains { $0.name.lowercased() == "location" && $0.value.hasPrefix("/login?next=") },
                    "\(path): \(answer.status)")
        }
        for path in ["/api/v1/alerts", "/api/v1/rules", "/", "/rules", "/findings", "/ledger"] {
            #expect(try await status(path, token: true) == 200, "\(path) with a token")
        }
        #expect(try await status("/api/v1/silences", method: .post, body: #"{"matchers": ["a=\"b\""], "duration": "1h"}"#) == 401)
        #expect(try await status("/api/v1/acknowledgements", method: .post, body: #"{"alert": "g/1"}"#) == 401)
        #expect(try await status("/api/v1/silence/abc", method: .delete) == 401)
        // A token passes the checks; this process has no actions to take (503), which shows the check was passed.
        #expect(try await status("/api/v1/silences", method: .post, token: true, body: #"{"matchers": ["a=\"b\""], "duration": "1h"}"#) == 503)
        // With anonymous alert lists, exactly those open.
        let lists = WebAccess(loopbackOnly: false, anonymousAlertLists: true)
        #expect(lists.mayRead(.alertLists, principal: nil) && !lists.mayRead(.evidence, principal: nil))
    }
}

@Suite("Review findings: redirects, rebinding, stored silences, acknowledgements, followers")
struct ConsoleHardeningTests {
    @Test("after a login only a path of this site: no //host, no backslash, no tab or newline a browser would drop")
    func localPaths() {
        for good in ["/", "/alert?key=g%2F1f", "/meshwatchd/silences#x"] { #expect(Console.isLocalPath(good), "\(good)") }
        for bad in ["//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/x", "https://evil.example", "evil", "", "/é", "/a b"] {
            #expect(!Console.isLocalPath(bad), "\(bad)")
        }
    }

    @Test("a loopback listener reads freely only for loopback Host names (DNS rebinding reads nothing); 127.example.com is no loopback")
    func rebinding() {
        let web = WebAccess(loopbackOnly: true, externalURL: "https://ops.example.com/")
        for host in ["127.0.0.1:9819", "localhost:9819", "[::1]:9819", "127.1.2.3", "ops.example.com"] {
            #expect(web.mayRead(.evidence, principal: nil, host: host), "\(host)")
        }
        for host in ["evil.example:9819", "127.example.com:9819", "127.0.0.1.nip.io", "[::2]:1"] {
            #expect(!web.mayRead(.evidence, principal: nil, host: host), "\(host)")
        }
        #expect(!ListenAddress.isLoopbackHost("127.example.com") && !ListenAddress.isLoopbackHost("127.0.0.256"))
        #expect(ListenAddress("127.0.0.1:1")?.isLoopback == true && ListenAddress("0.0.0.0:1")?.isLoopback == false)
    }

    @Test("a stored silence passes a new one's checks: no matchers or match-everything entries are dropped, the rest kept")
    func storedSilences() throws {
        let good = try Silence(matchers: [#"a="b""#], startsAt: Date(timeIntervalSince1970: 0), endsAt: Date(timeIntervalSince1970: 10),
                               createdBy: "x", comment: "")
        var expired = good
        expired.endsAt = good.startsAt
        expired.expiredBy = "y"
        let encoder = ClusterCopy.encoder
        let json = "[" + [String(decoding: try encoder.encode(good), as: UTF8.self), String(decoding: try encoder.encode(expired), as: UTF8.self),
                          #"{"id":"e","matchers":[],"startsAt":"2026-01-01T00:00:00.000Z","endsAt":"2027-01-01T00:00:00.000Z","createdBy":"x","comment":""}"#,
                          #"{"id":"f","matchers":["a=~\".*\""],"startsAt":"2026-01-01T00:00:00.000Z","endsAt":"2027-01-01T00:00:00.000Z","createdBy":"x","comment":""}"#]
            .joined(separator: ",") + "]"
        let entries = try ClusterCopy.decoder.decode([Lossy<Silence>].self, from: Data(json.utf8)).compactMap(\.value)
        #expect(entries.map(\.id) == [good.id, good.id])
        #expect(entries[1].endsAt == good.startsAt && entries[1].expiredBy == "y")
    }

    @Test("an acknowledgement goes with its alert's record; a follower's actions are refused and it never writes the cluster's copy")
    func acknowledgementsAndFollowers() async throws {
        let directory = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(path: directory + "/state.sqlite", logger: Logger(label: "test"))
        let instance = AlertInstance(labels: Labels(["alertname": "A"]), annotations: .empty, state: .firing, value: 1, activeAt: Date(), firedAt: Date())
        let fired = NotificationPlanner(policy: EscalationPolicy(), routes: []).plan([AlertTransition(kind: .firing, group: "g", rule: "A", instance: instance,
                                                                                                     at: Date())], at: Date())
        var plan = NotificationPlan()
        plan.upserts["g/1"] = try #require(fired.upserts.values.first)
        try store.save(plan: plan)
        try store.save(acknowledgement: Acknowledgement(by: "alice", at: Date()), alertKey: "g/1", plan: NotificationPlan())
        #expect(try store.acknowledgements().keys.sorted() == ["g/1"])
        var resolved = NotificationPlan()
        resolved.removals.insert("g/1")
        try store.save(plan: resolved)
        #expect(try store.acknowledgements().isEmpty)

        let follower = Leadership(leading: false)
        let actions = OperatorActions(planner: NotificationPlanner(policy: EscalationPolicy(), routes: []), store: store, status: DaemonStatus(),
                                      outboxSignal: OutboxSignal(), leadership: follower, logger: Logger(label: "test"), sinks: { [] })
        do throws(OperatorActions.Failure) {
            _ = try await actions.addSilence(matchers: [#"a="b""#], startsAt: nil, endsAt: Date().addingTimeInterval(60), createdBy: "x", comment: "")
            Issue.record("a follower added a silence")
        } catch {
            #expect(error.status == 503)
        }
        #expect(await actions.silences().isEmpty)
    }
}
