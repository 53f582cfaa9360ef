import Foundation
import Incidents
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import Testing

/// The operator's daily tool against the real daemon: silences through the CLI reaching every
/// sink kind (a real Alertmanager among them), two replicas answering with the leader's state,
/// and the status page in a real browser.
@Suite("Status page, acknowledge and silence: the daemon, the CLI, a browser")
struct ConsoleDaemonTests {
    let harness = DaemonTests()
    let cli = CommandLineTests()

    static let token = "ops-token-0123456789abcdef"
    /// One client for the suite's requests (each HTTPClient has a transfer thread of its own).
    static let http = HTTPClient(configuration: .init(timeout: .seconds(30)))

    /// Writes the token file the configuration names (web.tokens) and the CLI reads.
    static func tokenFile(_ directory: String) throws -> String {
        let path = directory + "/ops.token"
        try (token + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The daemon's API with the token.
    static func api(_ url: String, method: HTTPRequest.Method = .get, body: String? = nil, headers: [(name: String, value: String)] = []) async throws -> HTTPResponse {
        try await ConsoleDaemonTests.http.execute(HTTPRequest(method: method, url: url, headers: [("Authorization", "Bearer \(token)")] + headers,
                                                   body: body.map { Array($0.utf8) }))
    }

    static func waitUntil(_ timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return try await condition()
    }

    /// How many bodies of one sink kind reached the receiver (every sink posts to its `/receiver`):
    /// a finding (webhook), a Slack message, a PagerDuty event, Alertmanager's webhook notification.
    static func delivered(_ receiver: EchoServer, _ kind: String) async throws -> Int {
        try await receiver.deliveries().bodies.filter { body in
            switch kind {
            case "/webhook": (try? Finding.decode(Array(body.utf8))) != nil
            case "/slack": body.contains(#""blocks""#)
            case "/pd": body.contains(#""event_action""#)
            default: body.contains(#""receiver":"hook""#)
            }
        }.count
    }

    @Test("a silence added with the CLI quiets webhook, Slack and PagerDuty; Alertmanager gets the alert and the silence (suppressed there); expiring it sends the firing everywhere")
    func silenceEverySinkKind() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let scenario = MeshScenario.live()
        try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
            try await withEchoServer { receiver async throws in
                try await withAlertmanager(receiverURL: receiver.url("/receiver")) { alertmanager async throws in
                    let tokenFile = try Self.tokenFile(state)
                    try "routing-key-0001".write(toFile: state + "/pd.key", atomically: true, encoding: .utf8)
                    try #"""
                        {"prometheus": {"url": "\#(prometheus.url)"},
                         "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "45s"}}},
                         "web": {"tokens": [{"name": "ops", "file": "\#(tokenFile)"}]},
                         "sinks": [
                           {"name": "hook", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]},
                           {"name": "chat", "type": "slack", "url": "\#(receiver.url("/receiver"))", "group_wait": "0s", "alerts": ["IstioHighErrorRate"]},
                           {"name": "pager", "type": "pagerduty", "url": "\#(receiver.url("/receiver"))", "routing_key_file": "\#(state)/pd.key",
                            "alerts": ["IstioHighErrorRate"]},
                           {"name": "am", "type": "alertmanager", "url": "\#(alertmanager.url)", "repeat_interval": "2s", "alerts": ["IstioHighErrorRate"]}]}
                        """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                    let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                    defer { daemon.signal(SIGKILL) }
                    let api = ["--url", daemon.statusURL(""), "--token-file", tokenFile]
                    #expect(try await Self.waitUntil(.seconds(30)) { (try? await ConsoleDaemonTests.http.get(daemon.statusURL("/readyz")).status) == 200 })

                    // The silence first, while the alert is pending (its `for` is 45 s): the refusals below
                    // are checked after it, so slow process starts on a busy machine cannot let it fire first.
                    let added = try await cli.meshwatchd(["silence", "add", #"alertname="IstioHighErrorRate""#, #"destination_workload=~"rev.*""#,
                                                          "--duration", "1h", "--comment", "rollback in progress"] + api)
                    #expect(added.status == 0, "\(added.stderr)")
                    let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    #expect(id.count == 36, "\(added.stdout)")
                    #expect(await daemon.waitForLog(.seconds(30)) { $0["msg"] == "silence added" && $0["silence.id"] == id && $0["user.name"] == "token:ops" } != nil,
                            "log:\n\(daemon.log)")
                    #expect(!daemon.logLines.contains { $0["msg"] == "alert firing" && $0["rule.name"] == "IstioHighErrorRate" },
                            "the alert fired before the silence was added: the machine is too slow for this test's 45 s")

                    // Without a token the CLI is refused before it sends anything; a wrong token by the daemon.
                    let untokened = try await cli.meshwatchd(["silence", "add", #"alertname="IstioHighErrorRate""#, "--comment", "x", "--url", daemon.statusURL("")])
                    #expect(untokened.status != 0 && untokened.stderr.contains("token"), "\(untokened.stderr)")
                    try "wrong-token-0123456789".write(toFile: state + "/wrong.token", atomically: true, encoding: .utf8)
                    let wrong = try await cli.meshwatchd(["silence", "add", #"alertname="IstioHighErrorRate""#, "--comment", "x",
                                                          "--url", daemon.statusURL(""), "--token-file", state + "/wrong.token"])
                    #expect(wrong.status != 0 && wrong.stderr.contains("401"), "\(wrong.stderr)")

                    // It fires: Alertmanager has the alert, suppressed by the silence meshwatchd forwarded.
                    #expect(await daemon.waitForLog(.seconds(120)) { $0["msg"] == "alert firing" && $0["rule.name"] == "IstioHighErrorRate" } != nil,
                            "log:\n\(daemon.log)")
                    var suppressed = false
                    let silencedInAlertmanager = try await Self.waitUntil(.seconds(20)) {
                        let alerts = try JSONSerialization.jsonObject(with: Data(try await ConsoleDaemonTests.http.get(alertmanager.url + "/api/v2/alerts").body)) as? [[String: Any]] ?? []
                        suppressed = alerts.contains { alert in
                            let status = alert["status"] as? [String: Any]
                            return (alert["labels"] as? [String: String])?["alertname"] == "IstioHighErrorRate" && status?["state"] as? String == "suppressed"
                                && !(status?["silencedBy"] as? [String] ?? []).isEmpty
                        }
                        return suppressed
                    }
                    #expect(silencedInAlertmanager, "Alertmanager does not show the alert suppressed")
                    let amSilences = try JSONSerialization.jsonObject(with: Data(try await ConsoleDaemonTests.http.get(alertmanager.url + "/api/v2/silences").body)) as? [[String: Any]] ?? []
                    let forwarded = amSilences.filter { ($0["comment"] as? String)?.hasSuffix("[meshwatchd silence \(id)]") == true }
                    #expect(forwarded.count == 1, "\(amSilences)")
                    #expect(forwarded.first?["createdBy"] as? String == "token:ops")
                    // A few re-sends later: still one silence there, and nothing reached the other sinks (nor Alertmanager's receiver).
                    try await Task.sleep(for: .seconds(5))
                    let again = try JSONSerialization.jsonObject(with: Data(try await ConsoleDaemonTests.http.get(alertmanager.url + "/api/v2/silences").body)) as? [[String: Any]] ?? []
                    #expect(again.filter { ($0["comment"] as? String)?.contains(id) == true }.count == 1)
                    for path in ["/webhook", "/slack", "/pd", "/am"] {
                        #expect(try await Self.delivered(receiver, path) == 0, "\(path) heard of a silenced alert")
                    }
                    // The page and the API list it.
                    let page = String(decoding: try await ConsoleDaemonTests.http.get(daemon.statusURL("/silences")).body, as: UTF8.self)
                    #expect(page.contains("silence-\(id)") && page.contains("rollback in progress") && page.contains("active"), "\(page)")
                    let alerts = String(decoding: try await ConsoleDaemonTests.http.get(daemon.statusURL("/")).body, as: UTF8.self)
                    #expect(alerts.contains("IstioHighErrorRate") && alerts.contains("silenced"), "\(alerts)")

                    // Expired: the three that were kept from the firing hear of it now, and Alertmanager's silence ends.
                    let expired = try await cli.meshwatchd(["silence", "expire", id] + api)
                    #expect(expired.status == 0, "\(expired.stderr)")
                    for path in ["/webhook", "/slack", "/pd"] {
                        #expect(try await Self.waitUntil(.seconds(20)) { try await Self.delivered(receiver, path) > 0 }, "\(path) never heard; log:\n\(daemon.log.suffix(6000))")
                    }
                    let bodies = try await receiver.deliveries().bodies
                    let hook = bodies.compactMap { try? Finding.decode(Array($0.utf8)) }
                    #expect(hook.map(\.kind) == [.firing], "\(hook.map(\.kind))")
                    #expect(bodies.contains { $0.contains(#""event_action":"trigger""#) && $0.contains("routing-key-0001") })
                    #expect(bodies.contains { $0.contains(#""blocks""#) && $0.contains("FIRING") })
                    #expect(try await Self.waitUntil(.seconds(20)) { try await Self.delivered(receiver, "/am") > 0 }, "Alertmanager never notified after the expiry")
                    let list = try await cli.meshwatchd(["silence", "list", "--expired", "--output", "json"] + api)
                    let listed = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
                    #expect(listed.first?["id"] as? String == id && (listed.first?["status"] as? [String: Any])?["state"] as? String == "expired"
                            && listed.first?["expiredBy"] as? String == "token:ops", "\(list.stdout)")
                    #expect(try await cli.meshwatchd(["silence", "list"] + api).stdout.split(separator: "\n").count == 1)  // the header: none active
                    #expect(daemon.log.contains(#""msg":"silence expired""#))
                }
            }
        }
    }

    @Test("two replicas: the follower answers with the leader's state; a silence added through it survives the leader's death")
    func replicas() async throws {
        let harness = DaemonTests()
        let scenario = MeshScenario.live()
        try await withPrometheus(openMetrics: scenario.openMetrics()) { prometheus async throws in
            try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
                try await withEchoServer { receiver async throws in
                    var replicas: [(state: String, daemon: DaemonTests.Daemon)] = []
                    defer {
                        for replica in replicas {
                            replica.daemon.signal(SIGKILL)
                            try? FileManager.default.removeItem(atPath: replica.state)
                        }
                    }
                    for name in ["replica-a", "replica-b"] {
                        let state = try DaemonTests.temporaryDirectory()
                        let port = try LoopbackPort.free()
                        try double.kubeconfig().write(toFile: state + "/kubeconfig", atomically: true, encoding: .utf8)
                        try #"""
                            {"prometheus": {"url": "\#(prometheus.url)"},
                             "kubernetes": {"kubeconfig": "\#(state)/kubeconfig"},
                             "leader_election": {"enabled": true, "namespace": "meshwatchd", "identity": "\#(name)",
                                                 "lease_duration": "3s", "renew_deadline": "2s", "retry_period": "500ms"},
                             "web": {"tokens": [{"name": "ops", "file": "\#(try Self.tokenFile(state))"}],
                                     "advertise_url": "http://127.0.0.1:\#(port)"},
                             "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "8s"}}},
                             "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]}]}
                            """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                        replicas.append((state, try await harness.start(["--config", state + "/config.json", "--state-directory", state],
                                                                        notify: nil, port: port)))
                        if name == "replica-a" {
                            #expect(await replicas[0].daemon.waitForLog(.seconds(20)) { $0["msg"] == "acquired leadership" } != nil,
                                    "log:\n\(replicas[0].daemon.log)")
                        }
                    }
                    let (a, b) = (replicas[0].daemon, replicas[1].daemon)
                    #expect(await b.waitForLog(.seconds(30)) { $0["msg"] == "following: waiting for the lease" } != nil, "log:\n\(b.log)")
                    // A follower reloads too (SIGHUP's default action would end it): its configuration, users and tokens.
                    b.signal(SIGHUP)
                    #expect(await b.waitForLog(.seconds(30)) { $0["msg"] == "reloading configuration and rules" } != nil, "log:\n\(b.log)")
                    #expect(b.process.isRunning, "SIGHUP ended the follower")

                    // A silence through the follower: forwarded, kept by the leader, copied to the ConfigMap.
                    let added = try await cli.meshwatchd(["silence", "add", #"alertname="IstioHighErrorRate""#, "--duration", "1h",
                                                          "--comment", "failover drill", "--url", b.statusURL(""), "--token-file", replicas[1].state + "/ops.token"])
                    #expect(added.status == 0, "\(added.stderr)\nA:\n\(a.log)")
                    let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    #expect(await a.waitForLog(.seconds(30)) { $0["msg"] == "silence added" && $0["silence.id"] == id } != nil, "log:\n\(a.log)")
                    #expect(!b.log.contains(#""msg":"silence added""#))
                    let configMap = String(decoding: try await ConsoleDaemonTests.http.get(double.url + "/api/v1/namespaces/meshwatchd/configmaps/meshwatchd-silences").body,
                                           as: UTF8.self)
                    #expect(configMap.contains(id), "\(configMap)")

                    // The follower's page and API answer with the leader's state: its firing alert, the silence.
                    #expect(await a.waitForLog(.seconds(40)) { $0["msg"] == "alert firing" && $0["rule.name"] == "IstioHighErrorRate" } != nil, "log:\n\(a.log)")
                    let page = String(decoding: try await ConsoleDaemonTests.http.get(b.statusURL("/")).body, as: UTF8.self)
                    #expect(page.contains("IstioHighErrorRate") && page.contains("silenced") && !page.contains("Following"), "\(page)")
                    let listed = String(decoding: try await Self.api(b.statusURL("/api/v1/silences")).body, as: UTF8.self)
                    #expect(listed.contains(id), "\(listed)")
                    // Its own probes stay its own.
                    #expect(try await ConsoleDaemonTests.http.get(b.statusURL("/readyz")).status == 200)

                    // The leader dies: B leads, adopts the silence, and its own firing of the alert reaches no sink.
                    // (On a busy machine A may have fired before the silence: count what it sent.)
                    let firedBefore = try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }.filter { $0.kind == .firing }.count
                    a.signal(SIGKILL)
                    _ = await a.process.waitForExit()
                    #expect(await b.waitForLog(.seconds(60)) { $0["msg"] == "acquired leadership" } != nil, "log:\n\(b.log)")
                    #expect(await b.waitForLog(.seconds(30)) { $0["msg"] == "silences and acknowledgements adopted from the cluster" } != nil,
                            "log:\n\(b.log)")
                    #expect(await b.waitForLog(.seconds(40)) { $0["msg"] == "alert firing" && $0["rule.name"] == "IstioHighErrorRate" } != nil,
                            "log:\n\(b.log)")
                    try await Task.sleep(for: .seconds(2))
                    let findings = try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }
                    #expect(findings.filter { $0.kind == .firing }.count == firedBefore, "\(findings.map(\.kind))\nB:\n\(b.log.suffix(4000))")
                    let own = String(decoding: try await Self.api(b.statusURL("/api/v1/silences")).body, as: UTF8.self)
                    #expect(own.contains(id) && own.contains("failover drill"), "\(own)")
                }
            }
        }
    }
}

/// The status page in headless Chromium, driven by chromedriver (Selenium in the tools venv,
/// `scripts/install-deps.sh --test-tools`): what a person sees, with screenshots in the
/// artifacts folder (`$MESHWATCHD_ARTIFACTS`, else `.build/test-artifacts`).
@Suite("The status page in a browser")
struct ConsoleBrowserTests {
    static let python = PackTests.root + "/.build/tools/bin/python"

    /// Opens the pages, logs in and acknowledges; prints what each page showed, as JSON.
    static let script = #"""
        import json, sys, urllib.parse
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        base, user, password, artifacts, key, profile = sys.argv[1:7]
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400",
                     "--user-data-dir=" + profile, "--no-first-run", "--disable-background-networking", "--disable-sync",
                     "--disable-extensions", "--disable-component-update", "--disable-default-apps"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.set_page_load_timeout(60)
        driver.implicitly_wait(10)
        seen = {}
        def follow(element):
            # A click that navigates: wait until the old page is gone.
            element.click()
            WebDriverWait(driver, 30).until(expected_conditions.staleness_of(element))
        def main(name, shot=None):
            seen[name] = driver.find_element(By.TAG_NAME, "main").text
            if shot:
                driver.save_screenshot(artifacts + "/" + shot)
        try:
            alert = base + "/alert?key=" + urllib.parse.quote(key, safe="")
            driver.get(base + "/")
            main("alerts", "console-alerts.png")
            driver.get(alert)
            main("alert_anonymous")
            driver.get(base + "/findings")
            follow(driver.find_element(By.CSS_SELECTOR, "main table td a"))
            main("finding", "console-finding.png")
            driver.get(base + "/ledger")
            main("ledger", "console-ledger.png")
            driver.get(base + "/login?next=" + urllib.parse.quote("/alert?key=" + urllib.parse.quote(key, safe=""), safe=""))
            driver.find_element(By.NAME, "user").send_keys(user)
            driver.find_element(By.NAME, "password").send_keys(password)
            follow(driver.find_element(By.ID, "login"))
            seen["after_login"] = driver.current_url
            driver.find_element(By.NAME, "comment").send_keys("rolling back reviews")
            follow(driver.find_element(By.ID, "acknowledge"))
            main("acknowledged", "console-acknowledged.png")
            driver.get(base + "/silences")
            driver.find_element(By.NAME, "matchers").send_keys('alertname="IstioHighLatency"\nnamespace=~"shop|web"')
            driver.find_element(By.NAME, "comment").send_keys("load test")
            follow(driver.find_element(By.ID, "create-silence"))
            main("silenced", "console-silences.png")
            follow(driver.find_element(By.CSS_SELECTOR, "main table button"))
            main("silence_expired")
            cookie = driver.get_cookie("meshwatchd_session") or {}
            seen["cookie"] = {k: cookie.get(k) for k in ["name", "value", "httpOnly", "sameSite", "path"]}
        finally:
            driver.quit()
        print(json.dumps(seen))
        """#

    @Test("alerts, a finding with its evidence, the ledger; acknowledge logged in, refused without a session, with a wrong CSRF token or Origin")
    func browser() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver"), FileManager.default.isExecutableFile(atPath: Self.python) else {
            Issue.record("chromedriver or the tools venv is missing: run scripts/install-deps.sh --test-tools")
            return
        }
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let artifacts = ReportTests.artifacts
        let hash = try #require(WebAccess.bcrypt("correct horse battery", cost: 4))
        try await withLiveIncident(state: state) { prometheus, double, receiver, kubeconfig async throws in
            try #"""
                {"prometheus": {"url": "\#(prometheus.url)"},
                 "kubernetes": {"kubeconfig": "\#(kubeconfig)"},
                 "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "2s"}}},
                 "remediation": {"mode": "dry-run", "own_namespace": "meshwatchd"},
                 "web": {"users": [{"name": "alice", "password_hash": "\#(hash)"}]},
                 "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]}]}
                """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            let daemon = try await DaemonTests().start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
            defer { daemon.signal(SIGKILL) }
            #expect(await daemon.waitForLog(.seconds(40)) { $0["msg"] == "remediation decided" } != nil, "log:\n\(daemon.log)")
            // The finding went out with its evidence: the page shows the same.
            var firing: Finding?
            _ = try await ConsoleDaemonTests.waitUntil(.seconds(30)) {
                firing = try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }.first { $0.kind == .firing && !$0.evidence.isEmpty }
                return firing != nil
            }
            let finding = try #require(firing, "log:\n\(daemon.log)")
            let key = NotificationPlanner.alertKey(group: finding.alert.group, fingerprint: UInt64(finding.alert.fingerprint, radix: 16) ?? 0)

            try Self.script.write(toFile: state + "/browser.py", atomically: true, encoding: .utf8)
            let run = try await ChildProcess.run(Self.python, [state + "/browser.py", daemon.statusURL(""), "alice", "correct horse battery",
                                                               artifacts, key, state + "/chromium"])
            #expect(run.status == 0, "\(run.output.suffix(4000))")
            let jsonLine = run.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any], "\(run.output.suffix(2000))")
            let alerts = seen["alerts"] as? String ?? ""
            #expect(alerts.contains("Firing (1)") && alerts.contains("IstioHighErrorRate") && alerts.contains("destination_workload=\"reviews\""), "\(alerts)")
            #expect((seen["alert_anonymous"] as? String)?.contains("Log in to acknowledge") == true, "\(seen["alert_anonymous"] ?? "")")
            let page = seen["finding"] as? String ?? ""
            #expect(page.contains("Evidence") && page.contains(finding.evidence.first ?? "(no evidence)"), "\(page)")
            #expect(page.contains("Deliveries") && page.contains("ops") && page.contains("delivered"), "\(page)")
            #expect(page.contains("DRY-RUN") || page.contains("dry-run"), "\(page)")
            let ledger = seen["ledger"] as? String ?? ""
            #expect(ledger.contains("rollout_undo") && ledger.contains("bookinfo/reviews") && ledger.contains("dry-run"), "\(ledger)")
            #expect((seen["after_login"] as? String)?.contains("/alert?key=") == true)
            let acknowledged = seen["acknowledged"] as? String ?? ""
            #expect(acknowledged.contains("Acknowledged by alice") && acknowledged.contains("rolling back reviews"), "\(acknowledged)")
            let silenced = seen["silenced"] as? String ?? ""
            #expect(silenced.contains(#"alertname="IstioHighLatency""#) && silenced.contains(#"namespace=~"shop|web""#) && silenced.contains("load test")
                    && silenced.contains("active") && silenced.contains("alice"), "\(silenced)")
            #expect((seen["silence_expired"] as? String)?.contains("expired (by alice)") == true, "\(seen["silence_expired"] ?? "")")
            let cookie = seen["cookie"] as? [String: Any] ?? [:]
            #expect(cookie["httpOnly"] as? Bool == true && cookie["sameSite"] as? String == "Strict", "\(cookie)")
            for shot in ["console-alerts.png", "console-finding.png", "console-ledger.png", "console-acknowledged.png", "console-silences.png"] {
                let size = (try? FileManager.default.attributesOfItem(atPath: artifacts + "/" + shot)[.size] as? Int) ?? 0
                #expect(size > 10_000, "\(shot): \(size) bytes")
            }
            // Every sink that heard was told who acknowledged.
            #expect(try await ConsoleDaemonTests.waitUntil(.seconds(20)) {
                try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }
                    .contains { $0.kind == .acknowledged && $0.acknowledgement?.by == "alice" }
            })

            // The refusals, with the browser's own session: no session, a wrong CSRF token, a foreign or missing Origin.
            let session = "meshwatchd_session=\(cookie["value"] as? String ?? "")"
            let alertPage = String(decoding: try await ConsoleDaemonTests.http.execute(HTTPRequest(url: daemon.statusURL("/alert?key=" + ConsolePages.q(key)),
                                                                                        headers: [("Cookie", session)])).body, as: UTF8.self)
            let csrf = try #require(alertPage.range(of: #"name="csrf" value="[0-9a-f]+""#, options: .regularExpression).map {
                String(alertPage[$0].dropFirst(#"name="csrf" value=""#.count).dropLast())
            }, "\(alertPage)")
            let origin = "http://127.0.0.1:\(daemon.port)"
            func post(_ headers: [(name: String, value: String)], csrf: String) async throws -> Int {
                try await ConsoleDaemonTests.http.execute(HTTPRequest(method: .post, url: daemon.statusURL("/alert?key=" + ConsolePages.q(key) + "&action=acknowledge"),
                                                           headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers,
                                                           body: Array("csrf=\(csrf)&comment=again".utf8))).status
            }
            #expect(try await post([("Origin", origin)], csrf: csrf) == 401)
            #expect(try await post([("Origin", origin), ("Cookie", session)], csrf: "0123456789abcdef") == 403)
            #expect(try await post([("Origin", "http://evil.example"), ("Cookie", session)], csrf: csrf) == 403)
            #expect(try await post([("Cookie", session)], csrf: csrf) == 403)
            #expect(try await post([("Origin", "null"), ("Cookie", session)], csrf: csrf) == 403)
            // And the right one would pass: the refusals were about the session, the token and the Origin alone.
            #expect(try await post([("Origin", origin), ("Cookie", session)], csrf: csrf) == 303)
            #expect(await daemon.waitForLog(.seconds(30)) { $0["msg"] == "action refused" && $0["reason"]?.contains("CSRF") == true } != nil)
        }
    }
}
