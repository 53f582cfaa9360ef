import Foundation
import Incidents
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import Testing

/// Faults an SRE tries before production: each one a lost or an extra page on the old code.
@Suite("Nothing lost, nothing doubled: reloads, a full disk, a hanging sink")
struct DaemonFaultTests {
    let harness = DaemonTests()

    static func findings(_ receiver: EchoServer) async throws -> [Finding] {
        try await receiver.deliveries().bodies.compactMap { try? Finding.decode(Array($0.utf8)) }
    }

    /// Waits until `condition` holds (checked every 100 ms) or `timeout` passes; true if it held.
    static func eventually(_ timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    @Test("an expression and for edit by SIGHUP keeps the firing alert: no resolve and no new firing")
    func expressionEditBySIGHUP() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withEchoServer { receiver async throws in
            func rules(_ expression: String, hold: String, marker: String?) -> String {
                var text = """
                    groups:
                    - name: steady
                      interval: 1s
                      rules:
                      - alert: Steady
                        expr: \(expression)
                        for: \(hold)
                        labels: {severity: warning}
                        annotations: {summary: "value {{ $value }}"}
                    """
                // A rule after Steady in the same group: its firing proves the edited rule was evaluated.
                if let marker { text += "\n  - alert: \(marker)\n    expr: vector(1)\n" }
                return text
            }
            try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
                try rules("vector(1) > 0", hold: "1s", marker: nil).write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
                try #"""
                    {"prometheus": {"url": "\#(prometheus.url)"}, "rule_files": ["rules.yml"],
                     "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))"}]}
                    """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                defer { daemon.signal(SIGKILL) }
                #expect(try await Self.eventually(.seconds(30)) { try await Self.findings(receiver).contains { $0.kind == .firing } },
                        "log:\n\(daemon.log.suffix(3000))")
                // First the expression (the old rule would re-fire one second later), then `for`, far longer.
                for (expression, hold, marker) in [("vector(2) > 0", "1s", "FirstReload"), ("vector(3) > 0", "10m", "SecondReload")] {
                    try rules(expression, hold: hold, marker: marker).write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
                    daemon.signal(SIGHUP)
                    #expect(try await Self.eventually(.seconds(30)) {
                        try await Self.findings(receiver).contains { $0.kind == .firing && $0.alert.name == marker }
                    }, "log:\n\(daemon.log.suffix(3000))")
                    // Three more cycles: an edited rule started afresh would have fired again by now (for: 1s).
                    #expect(await daemon.waitForCycles(3, group: "steady"), "log:\n\(daemon.log.suffix(3000))")
                }
                let all = try await Self.findings(receiver).filter { $0.alert.name == "Steady" }
                #expect(all.map(\.kind) == [.firing], "log:\n\(daemon.log.suffix(3000))")
                #expect(!daemon.logLines.contains { $0["rule.name"] == "Steady" && $0["msg"] == "alert resolved" })
                let firedFingerprint = all.first?.alert.fingerprint
                // Still firing with its first value's clock, under the new for and expression.
                let body = try await HTTPClient().get(daemon.statusURL("/api/v1/alerts")).body
                let answer = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                let alerts = (answer?["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
                let steady = try #require(alerts.first { ($0["labels"] as? [String: String])?["alertname"] == "Steady" },
                                          "\(String(decoding: body, as: UTF8.self))")
                #expect(steady["state"] as? String == "firing")
                #expect((steady["annotations"] as? [String: String])?["summary"] == "value 3")

                // A label edit is a new rule: the old alert resolves at once (the new one waits out its `for`).
                try rules("vector(3) > 0", hold: "10m", marker: "ThirdReload").replacingOccurrences(of: "severity: warning", with: "severity: critical")
                    .write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
                daemon.signal(SIGHUP)
                #expect(try await Self.eventually(.seconds(30)) {
                    try await Self.findings(receiver).contains { $0.kind == .resolved && $0.alert.name == "Steady" }
                }, "log:\n\(daemon.log.suffix(3000))")
                #expect(await daemon.waitForCycles(2, group: "steady"))
                let steadyFindings = try await Self.findings(receiver).filter { $0.alert.name == "Steady" }
                #expect(steadyFindings.map(\.kind) == [.firing, .resolved])
                #expect(steadyFindings.last?.alert.fingerprint == firedFingerprint)
            }
        }
    }

    @Test("a hanging sink beside a healthy one: the healthy one receives the finding while the hanging request is still open")
    func hangingSinkDelaysNoOther() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            try await withEchoServer { receiver async throws in
                try "groups:\n- name: now\n  interval: 1s\n  rules:\n  - alert: Now\n    expr: vector(1)\n"
                    .write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
                // The hanging sink comes first: one worker for all sinks would try it first and wait for its timeout.
                try #"""
                    {"prometheus": {"url": "\#(prometheus.url)"}, "rule_files": ["rules.yml"],
                     "sinks": [{"name": "stuck", "type": "webhook", "url": "\#(receiver.url("/hang"))"},
                               {"name": "healthy", "type": "webhook", "url": "\#(receiver.url("/receiver"))"}]}
                    """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                defer { daemon.signal(SIGKILL) }
                func index(_ sink: String, _ message: String) -> Int? {
                    daemon.logLines.firstIndex { $0["sink.name"] == sink && $0["msg"] == message }
                }
                // Progress first: the hanging request ended (its timeout), so both outcomes are in the log.
                #expect(await Self.eventually(.seconds(60)) { index("stuck", "finding delivery failed; will retry") != nil },
                        "log:\n\(daemon.log.suffix(3000))")
                let delivered = try #require(index("healthy", "finding delivered"), "log:\n\(daemon.log.suffix(3000))")
                let stuckFailed = try #require(index("stuck", "finding delivery failed; will retry"))
                #expect(delivered < stuckFailed, "log:\n\(daemon.log.suffix(3000))")
                #expect(try await Self.findings(receiver).map(\.kind) == [.firing])
            }
        }
    }

    @Test("a full state disk while an alert fires: the finding waits in memory, /readyz says why, and it is delivered once space returns")
    func fullDisk() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            Issue.record("this test mounts a tmpfs in a private mount namespace: it needs root and unshare")
            return
        }
        let base = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let state = base + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            try await withEchoServer { receiver async throws in
                // Fires a while after the start, once the disk is full (45 s: a busy machine took more
                // than 12 s to start the daemon and fill the disk, and the alert was saved first).
                let firesAt = Int(Date().timeIntervalSince1970) + 45
                try "groups:\n- name: late\n  interval: 1s\n  rules:\n  - alert: Late\n    expr: vector(time()) > \(firesAt)\n"
                    .write(toFile: base + "/rules.yml", atomically: true, encoding: .utf8)
                try #"""
                    {"prometheus": {"url": "\#(prometheus.url)"}, "rule_files": ["rules.yml"],
                     "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))"}]}
                    """#.write(toFile: base + "/config.json", atomically: true, encoding: .utf8)
                var environment = ProcessInfo.processInfo.environment
                environment.removeValue(forKey: "JOURNAL_STREAM")
                // The state directory is a 2 MiB tmpfs seen only by the daemon (and by us through /proc/PID/root).
                let process = try await ChildProcess.launch(name: "meshwatchd", executable: "/usr/bin/unshare", arguments: [
                    "-m", "/bin/sh", "-c", #"mount -t tmpfs -o size=2m,mode=0700 tmpfs "$0" && exec "$@""#, state,
                    DaemonTests.binary, "run", "--log-format", "json", "--listen", "127.0.0.1:0",
                    "--config", base + "/config.json", "--state-directory", state,
                ], environment: environment)
                let daemon = DaemonTests.Daemon(process: process, port: await DaemonTests.listeningPort(of: process) ?? 0)
                defer { daemon.signal(SIGKILL) }
                let http = HTTPClient()
                func get(_ path: String) async throws -> (Int, String) {
                    let response = try await http.get(daemon.statusURL(path))
                    return (response.status, String(decoding: response.body, as: UTF8.self))
                }
                #expect(try await Self.eventually(.seconds(30)) { (try? await get("/readyz"))?.0 == 200 }, "log:\n\(daemon.log.suffix(3000))")

                let filler = "/proc/\(process.processIdentifier)/root\(state)/filler"
                let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                try #require(descriptor >= 0, "cannot open \(filler): errno \(errno)")
                let chunk = [UInt8](repeating: 0x55, count: 16384)
                while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
                close(descriptor)

                // The alert fires while nothing can be saved: it waits in memory, and readiness says why.
                let filledAt = Int(Date().timeIntervalSince1970)
                #expect(filledAt < firesAt, "the disk was full only after the alert fired: the machine is too slow for this test's 45 s")
                #expect(try await Self.eventually(.seconds(120)) {
                    try await get("/metrics").1.contains("\nmeshwatchd_findings_unsaved 1\n")
                }, "log:\n\(daemon.log.suffix(3000))")
                let (status, body) = try await get("/readyz")
                #expect(status == 503)
                #expect(body.contains("alert state cannot be saved (1 findings wait in memory)"), "\(body)")
                #expect(daemon.logLines.contains { $0["msg"] == "could not save alert state; findings wait in memory and are saved with the next cycle"
                    && $0["findings.unsaved"] == "1" })
                #expect(try await Self.findings(receiver).isEmpty)
                #expect(!daemon.logLines.contains { $0["msg"] == "alert firing" }, "announced before it was saved")

                // Space returns: the finding is saved, announced and delivered, once.
                #expect(unlink(filler) == 0)
                #expect(try await Self.eventually(.seconds(30)) { !(try await Self.findings(receiver).isEmpty) }, "log:\n\(daemon.log.suffix(3000))")
                #expect(try await Self.eventually(.seconds(30)) { (try? await get("/readyz"))?.0 == 200 })
                #expect(await daemon.waitForCycles(2, group: "late"))
                #expect(try await Self.findings(receiver).map(\.kind) == [.firing])
                #expect(try await Self.findings(receiver).first?.alert.name == "Late")
                let firing = try #require(daemon.logLines.firstIndex { $0["msg"] == "alert firing" })
                let delivered = try #require(daemon.logLines.firstIndex { $0["msg"] == "finding delivered" })
                #expect(firing < delivered)
            }
        }
    }

    @Test("a 200,000-series answer: the rule fails with the cap, the group goes on, memory stays bounded, SIGTERM is honoured")
    func hugeAnswer() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withEchoServer { server async throws in
            // The stand-in answers `series_N` with N series (51 MB for 200,000).
            try """
                groups:
                - name: mixed
                  interval: 1s
                  rules:
                  - alert: Huge
                    expr: series_200000
                  - alert: Small
                    expr: series_1
                """.write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
            try #"""
                {"prometheus": {"url": "\#(server.url("/series"))"}, "rule_files": ["rules.yml"], "shutdown_timeout": "5s",
                 "query_timeout": "40s",
                 "sinks": [{"name": "ops", "type": "webhook", "url": "\#(server.url("/receiver"))"}]}
                """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
            defer { daemon.signal(SIGKILL) }
            // The rule after the huge one is evaluated and its finding delivered. (The cycle's budget is
            // the query timeout, 40 s: beside four busy loops and the other tests, reading the huge
            // answer to its cap took 10 to 17 s, past the default 10 s, and the rule after it was never reached.)
            #expect(try await Self.eventually(.seconds(60)) { try await Self.findings(server).contains { $0.alert.name == "Small" } },
                    "log:\n\(daemon.log.suffix(3000))")
            // (On a loaded machine the first answer may take past the cycle's deadline: that is logged first.)
            #expect(await Self.eventually(.seconds(60)) {
                daemon.logLines.contains { $0["msg"] == "rule evaluation failed" && $0["rule.name"] == "Huge"
                    && ($0["error"] ?? "").contains("the answer has more than 10000 series") }
            }, "log:\n\(daemon.log.suffix(3000))")
            #expect(!daemon.logLines.contains { $0["rule.name"] == "Huge" && $0["msg"] == "alert firing" })
            // Several cycles, each with the huge answer, and /metrics answers meanwhile.
            let http = HTTPClient()
            func iterations() async -> Int {
                let text = (try? await http.get(daemon.statusURL("/metrics"))).map { String(decoding: $0.body, as: UTF8.self) } ?? ""
                let line = text.split(separator: "\n").first { $0.hasPrefix("meshwatchd_rule_group_iterations_total{rule_group=\"mixed\"}") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            #expect(await Self.eventually(.seconds(60)) { await iterations() >= 5 })
            let status = (try? String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/status", encoding: .utf8)) ?? ""
            let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
            // The 51 MB body is read (below the 64 MiB response cap); the 200,000 series are not built.
            #expect(peak > 0 && peak < 400_000, "peak RSS \(peak) kB")
            let stopping = ContinuousClock.now
            daemon.signal(SIGTERM)
            let code = await daemon.process.waitForExit(within: .seconds(30))
            #expect(code == 0, "SIGTERM took \(ContinuousClock.now - stopping) (nil: not stopped within 30 s)")
            // The contract (shutdown_timeout, 5 s here) is measured on the daemon's own clock, from
            // its "shutting down" to "evaluation stopped": what the test process sees also counts
            // the signal's delivery and the wait for the exit, which take seconds of their own on a
            // busy machine. A daemon that ignored SIGTERM would miss both bounds by far.
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            func stamp(_ message: String) -> Date? {
                daemon.logLines.last { $0["msg"] == message }?["ts"].flatMap { formatter.date(from: $0) }
            }
            let began = try #require(stamp("shutting down"), "log:\n\(daemon.log.suffix(3000))")
            let ended = try #require(stamp("evaluation stopped; alert state saved"), "log:\n\(daemon.log.suffix(3000))")
            #expect(ended.timeIntervalSince(began) < 5, "the daemon took \(ended.timeIntervalSince(began)) s to stop; log:\n\(daemon.log.suffix(3000))")
        }
    }

    @Test("after SIGTERM, in-flight work is cancelled before the shutdown timeout, leaving a fifth of it (at most 2 s) for the last save")
    func shutdownReserve() {
        #expect(RunCommand.gracefulPart(of: .seconds(10)) == .seconds(8))
        #expect(RunCommand.gracefulPart(of: .seconds(5)) == .seconds(4))
        #expect(RunCommand.gracefulPart(of: .seconds(60)) == .seconds(58))
        #expect(RunCommand.gracefulPart(of: .milliseconds(500)) == .milliseconds(400))
    }

    @Test("a slow client dripping a request head is disconnected after listen_idle_timeout; a normal request still works")
    func slowlorisIsClosed() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try #"{"packs": {"istio": {}}, "listen_idle_timeout": "2s"}"#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
        let daemon = try await harness.start(["--config", state + "/config.json", "--prometheus", "http://127.0.0.1:\(try LoopbackPort.free())",
                                              "--state-directory", state], notify: nil)
        defer { daemon.signal(SIGKILL) }
        #expect(try await Self.eventually(.seconds(30)) { (try? await HTTPClient().get(daemon.statusURL("/healthz")))?.status == 200 })
        // One header line every half second, never the blank line that ends the head: prints how long the server kept it open.
        let script = """
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", \(daemon.port)))
            s.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n")
            start = time.time()
            s.settimeout(0.5)
            while time.time() - start < 20:
                try:
                    s.sendall(b"X-Drip: 1\\r\\n")
                    if s.recv(1) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
            print("%.1f" % (time.time() - start))
            """
        let (status, output) = try await ChildProcess.run("/usr/bin/python3", ["-c", script])
        let held = Double(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .infinity
        #expect(status == 0, "\(output)")
        #expect(held < 15, "the slow connection stayed open \(held) s")
        #expect(try await HTTPClient().get(daemon.statusURL("/healthz")).status == 200)
    }

    @Test("every sink shares one HTTP client thread, and a reload leaves no client of an earlier generation behind")
    func oneThreadForAllSinks() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let sinks = (1...6).map { #"{"name": "hook\#($0)", "type": "webhook", "url": "http://127.0.0.1:9/hook\#($0)"}"# }.joined(separator: ",")
        try #"{"packs": {"istio": {"parameters": {"interval": "1s"}}}, "sinks": [\#(sinks)]}"#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
        let daemon = try await harness.start(["--config", state + "/config.json", "--prometheus", "http://127.0.0.1:\(try LoopbackPort.free())",
                                              "--state-directory", state], notify: nil)
        defer { daemon.signal(SIGKILL) }
        func httpThreads() -> Int {
            let tasks = "/proc/\(daemon.process.processIdentifier)/task"
            return ((try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []).filter {
                (try? String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8))?.hasPrefix("meshwatchd-http") == true
            }.count
        }
        #expect(await daemon.waitForCycles(1, group: "meshwatchd-istio"), "log:\n\(daemon.log.suffix(2000))")
        for _ in 0..<3 {
            daemon.signal(SIGHUP)
            #expect(await daemon.waitForLog(.seconds(30)) { $0["msg"] == "evaluating" && $0["config.reload"] == "true" } != nil)
        }
        #expect(await daemon.waitForCycles(2, group: "meshwatchd-istio"))
        #expect(httpThreads() >= 1, "the HTTP client threads are named")
        // The current generation's Prometheus client and its runbooks' HTTP checks, and one for all
        // the sinks. An earlier generation's client ends its thread once the last work holding it
        // is done, which a busy machine may take a while to get to: waited for, up to a minute
        // (a client left behind never ends it).
        let deadline = ContinuousClock.now + .seconds(60)
        while httpThreads() > 3 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        #expect(httpThreads() <= 3, "\(httpThreads()) HTTP client threads")
    }

    @Test("a hanging Prometheus: MeshWatchDatasourceDown dates the outage from the first hanging query, not from when it timed out")
    func datasourceDownFromTheHang() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withEchoServer { server async throws in
            try "groups:\n- name: hung\n  interval: 1s\n  rules:\n  - alert: Any\n    expr: up == 0\n"
                .write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
            // Every query (and /-/ready) hangs; each fails only at the 6 s query timeout.
            try #"""
                {"prometheus": {"url": "\#(server.url("/hang"))"}, "rule_files": ["rules.yml"], "query_timeout": "6s",
                 "notifications": {"datasource_down_after": "4s"},
                 "sinks": [{"name": "ops", "type": "webhook", "url": "\#(server.url("/receiver"))"}]}
                """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
            let started = Date()
            let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
            defer { daemon.signal(SIGKILL) }
            var down: Finding?
            _ = try await Self.eventually(.seconds(60)) {
                down = try await Self.findings(server).first { $0.alert.name == "MeshWatchDatasourceDown" && $0.kind == .firing }
                return down != nil
            }
            let finding = try #require(down, "log:\n\(daemon.log.suffix(3000))")
            // The first query went out at the first tick, a second or so after the daemon began
            // evaluating (measured from its own log line, not from the launch: on a busy machine the
            // start itself may take seconds), and well before that query's 6 s timeout.
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let stamp = daemon.logLines.first { $0["msg"] == "evaluating" }?["ts"]
            let evaluating = try #require(stamp.flatMap { formatter.date(from: $0) }, "log:\n\(daemon.log.suffix(3000))")
            let dated = finding.alert.activeAt.timeIntervalSince(evaluating)
            #expect(dated < 3, "outage dated \(dated) s after evaluation began (\(finding.alert.activeAt.timeIntervalSince(started)) s after the launch)")
            let firedAfter = (finding.alert.firedAt ?? .distantFuture).timeIntervalSince(finding.alert.activeAt)
            #expect(firedAfter >= 4, "fired \(firedAfter) s into the outage")
        }
    }

    @Test("a resolve queued behind a firing in backoff does not make the sink's worker spin")
    func noSpinBehindBackoff() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            try await withEchoServer { receiver async throws in
                // Long enough that a daemon slow to start on a busy machine still sees it fire.
                let until = Int(Date().timeIntervalSince1970) + 20
                try "groups:\n- name: brief\n  interval: 1s\n  rules:\n  - alert: Brief\n    expr: vector(time()) < \(until)\n"
                    .write(toFile: state + "/rules.yml", atomically: true, encoding: .utf8)
                // The receiver refuses every attempt: the firing backs off (1 s, 2 s, 4 s, 8 s…) and the resolve waits behind it.
                try #"""
                    {"prometheus": {"url": "\#(prometheus.url)"}, "rule_files": ["rules.yml"],
                     "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver?fail=1000"))"}]}
                    """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                defer { daemon.signal(SIGKILL) }
                #expect(await daemon.waitForLog(.seconds(60)) { $0["msg"] == "alert resolved" && $0["rule.name"] == "Brief" } != nil,
                        "log:\n\(daemon.log.suffix(3000))")
                func cpuTicks() -> Int {
                    let stat = (try? String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/stat", encoding: .utf8)) ?? ""
                    let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
                    return fields.count > 12 ? (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) : 0
                }
                let before = cpuTicks()
                #expect(await daemon.waitForCycles(5, group: "brief"))
                let used = cpuTicks() - before
                // Five one-second cycles cost a few ticks; a worker polling its outbox in a loop costs hundreds.
                #expect(used < 100, "\(used) ticks of CPU in five cycles")
            }
        }
    }
}
