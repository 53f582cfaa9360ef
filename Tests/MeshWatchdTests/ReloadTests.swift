import Foundation
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import Testing

/// Reloads as Prometheus and vmalert offer them: `POST /-/reload` (an action: a token), and
/// watching the configuration and rule files, a ConfigMap's symlink swap included.
@Suite("Reload: POST /-/reload and changed files; a broken change refused")
struct ReloadTests {
    static let token = "reload-token-0123456789"

    /// A configuration directory laid out as the kubelet mounts a ConfigMap: `config.json` and
    /// `rules.yml` are symlinks through `..data` to a timestamped directory, swapped atomically.
    static func writeConfigMap(_ root: String, generation: Int, config: String, rules: String) throws {
        let data = root + "/..\(generation)"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try config.write(toFile: data + "/config.json", atomically: true, encoding: .utf8)
        try rules.write(toFile: data + "/rules.yml", atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: root + "/..data_tmp")
        try FileManager.default.createSymbolicLink(atPath: root + "/..data_tmp", withDestinationPath: "..\(generation)")
        guard rename(root + "/..data_tmp", root + "/..data") == 0 else { throw CocoaError(.fileWriteUnknown) }
        for name in ["config.json", "rules.yml"] where (try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + name)) == nil {
            try FileManager.default.createSymbolicLink(atPath: root + "/" + name, withDestinationPath: "..data/" + name)
        }
    }

    static func rules(_ names: [String]) -> String {
        "groups:\n- name: team\n  interval: 1s\n  rules:\n" + names.map { "  - alert: \($0)\n    expr: vector(1)\n" }.joined()
    }

    func ruleNames(_ daemon: DaemonTests.Daemon) async throws -> [String] {
        let body = try await ConsoleDaemonTests.http.execute(HTTPRequest(url: daemon.statusURL("/api/v1/rules"))).body
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        let groups = (object?["data"] as? [String: Any])?["groups"] as? [[String: Any]] ?? []
        return groups.flatMap { ($0["rules"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } }.sorted()
    }

    @Test("POST /-/reload needs a token; it applies a change (200), refuses a broken one (500, the old keeps running); the watcher follows a ConfigMap's symlink swap; /metrics says how the last reload went")
    func reloads() async throws {
        let root = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        try (Self.token + "\n").write(toFile: root + "/token", atomically: true, encoding: .utf8)
        func config(check: String) -> String {
            #"""
            {"prometheus": {"url": "http://127.0.0.1:\#(closed.port)"}, "rule_files": ["rules.yml"], "packs": {"istio": {"enabled": false}},
             "config_check_interval": "\#(check)", "web": {"tokens": [{"name": "ops", "file": "\#(root)/token"}]}}
            """#
        }
        let mount = root + "/config"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try Self.writeConfigMap(mount, generation: 1, config: config(check: "0s"), rules: Self.rules(["First"]))
        let daemon = try await DaemonTests().start(["--config", mount + "/config.json", "--state-directory", root + "/state"], notify: nil)
        defer { daemon.signal(SIGKILL) }
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { (try? await ruleNames(daemon)) == ["First"] }, "log:\n\(daemon.log.suffix(3000))")
        func reload(token: Bool = true) async throws -> (Int, String) {
            let answer = try await ConsoleDaemonTests.http.execute(HTTPRequest(method: .post, url: daemon.statusURL("/-/reload"),
                                                                    headers: token ? [("Authorization", "Bearer \(Self.token)")] : []))
            return (answer.status, String(decoding: answer.body, as: UTF8.self))
        }
        func metric(_ name: String) async throws -> String? {
            let text = String(decoding: try await ConsoleDaemonTests.http.get(daemon.statusURL("/metrics")).body, as: UTF8.self)
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
        }
        #expect(try await metric("meshwatchd_config_last_reload_successful") == "1")

        // Without a token: refused, nothing reloaded.
        try Self.writeConfigMap(mount, generation: 2, config: config(check: "0s"), rules: Self.rules(["First", "Second"]))
        #expect(try await reload(token: false).0 == 401)
        #expect(try await ruleNames(daemon) == ["First"])
        // With one: applied.
        let applied = try await reload()
        #expect(applied.0 == 200, "\(applied.1)\nlog:\n\(daemon.log.suffix(2000))")
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(20)) { (try? await ruleNames(daemon)) == ["First", "Second"] })
        // A broken rule file: 500 with the error, the running rules stay, the metric says so.
        try Self.writeConfigMap(mount, generation: 3, config: config(check: "0s"), rules: Self.rules(["First"]) + "  - alert: Broken\n    expr: sum(\n")
        let broken = try await reload()
        #expect(broken.0 == 500 && broken.1.contains("failed to reload config") && broken.1.contains("rules.yml"), "\(broken)")
        #expect(try await ruleNames(daemon) == ["First", "Second"])
        #expect(try await metric("meshwatchd_config_last_reload_successful") == "0")
        #expect(try await metric("meshwatchd_config_reloads_total{result=\"failure\"}") == "1")

        // Fixed, with the watcher on (1s): the ConfigMap's next swap is picked up without being asked.
        try Self.writeConfigMap(mount, generation: 4, config: config(check: "1s"), rules: Self.rules(["First", "Second"]))
        #expect(try await reload().0 == 200)
        #expect(try await metric("meshwatchd_config_last_reload_successful") == "1")
        try Self.writeConfigMap(mount, generation: 5, config: config(check: "1s"), rules: Self.rules(["Third"]))
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { (try? await ruleNames(daemon)) == ["Third"] }, "log:\n\(daemon.log.suffix(3000))")
        #expect(daemon.log.contains(#""msg":"configuration or rule files changed; reloading""#))
        // A broken swap is refused once (not retried every second) and the rules stay.
        func failures() -> Int { daemon.logLines.filter { $0["msg"] == "reload failed; the previous configuration keeps running" }.count }
        let failedBefore = failures()
        try Self.writeConfigMap(mount, generation: 6, config: config(check: "1s"), rules: "groups: [")
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { failures() > failedBefore })
        try await Task.sleep(for: .seconds(3))
        #expect(failures() == failedBefore + 1)
        #expect(try await ruleNames(daemon) == ["Third"])
        // Prometheus's probe paths and build information.
        #expect(try await ConsoleDaemonTests.http.get(daemon.statusURL("/-/healthy")).status == 200)
        let buildinfo = String(decoding: try await ConsoleDaemonTests.http.get(daemon.statusURL("/api/v1/status/buildinfo")).body, as: UTF8.self)
        #expect(buildinfo.contains(#""version":"\#(BuildInfo.version)""#), "\(buildinfo)")
    }
}

extension ReloadTests {
    @Test("users and tokens reload: SIGHUP re-reads the token files (the old token refused, the new one acts); a rotated token file is noticed by itself")
    func credentials() async throws {
        let root = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let first = "first-token-0123456789", second = "second-token-0123456789", third = "third-token-0123456789"
        try (first + "\n").write(toFile: root + "/token", atomically: true, encoding: .utf8)
        try #"""
            {"prometheus": {"url": "http://127.0.0.1:\#(closed.port)"}, "rule_files": ["rules.yml"], "packs": {"istio": {"enabled": false}},
             "config_check_interval": "1s", "web": {"tokens": [{"name": "ops", "file": "\#(root)/token"}]}}
            """#.write(toFile: root + "/config.json", atomically: true, encoding: .utf8)
        try Self.rules(["First"]).write(toFile: root + "/rules.yml", atomically: true, encoding: .utf8)
        let daemon = try await DaemonTests().start(["--config", root + "/config.json", "--state-directory", root + "/state"], notify: nil)
        defer { daemon.signal(SIGKILL) }
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { (try? await ruleNames(daemon)) == ["First"] }, "log:\n\(daemon.log.suffix(3000))")
        func acts(_ token: String) async throws -> Bool {
            let answer = try await ConsoleDaemonTests.http.execute(HTTPRequest(method: .post, url: daemon.statusURL("/-/reload"),
                                                                    headers: [("Authorization", "Bearer \(token)")]))
            return answer.status == 200
        }
        func reloads() -> Int { daemon.logLines.filter { $0["msg"] == "reloading configuration and rules" }.count }
        #expect(try await acts(first))
        #expect(try await !acts(second))

        // The token file rotated in place, then SIGHUP: the first token stops, the second acts.
        let before = reloads()
        try (second + "\n").write(toFile: root + "/token", atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { reloads() > before }, "log:\n\(daemon.log.suffix(3000))")
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { (try? await acts(second)) == true }, "log:\n\(daemon.log.suffix(3000))")
        #expect(try await !acts(first))

        // Rotated again with no signal: the watcher sees the token file change within its interval.
        try (third + "\n").write(toFile: root + "/token", atomically: true, encoding: .utf8)
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) { (try? await acts(third)) == true }, "log:\n\(daemon.log.suffix(3000))")
        #expect(try await !acts(second))

        // A token file that cannot be read fails the reload: the running tokens stay.
        try FileManager.default.removeItem(atPath: root + "/token")
        let failedBefore = daemon.logLines.filter { $0["msg"] == "reload failed; the previous configuration keeps running" }.count
        daemon.signal(SIGHUP)
        #expect(try await ConsoleDaemonTests.waitUntil(.seconds(30)) {
            daemon.logLines.filter { $0["msg"] == "reload failed; the previous configuration keeps running" }.count > failedBefore
        }, "log:\n\(daemon.log.suffix(3000))")
        #expect(daemon.log.contains("web.tokens[0].file"), "the failure names the key")
        // The running token still acts: its reload is tried, and fails for the missing file (500, not 401).
        let answer = try await ConsoleDaemonTests.http.execute(HTTPRequest(method: .post, url: daemon.statusURL("/-/reload"),
                                                                headers: [("Authorization", "Bearer \(third)")]))
        #expect(answer.status == 500 && String(decoding: answer.body, as: UTF8.self).contains("web.tokens[0].file"), "\(answer.status)")
    }

    @Test("a reload ends the sessions of a user removed or whose password changed, and no other; a removed token stops at once")
    func sessionsAfterReload() throws {
        let alice = try #require(WebAccess.bcrypt("alice-password", cost: 4)), bob = try #require(WebAccess.bcrypt("bob-password", cost: 4))
        let access = WebAccess(loopbackOnly: false, users: [.init(name: "alice", passwordHash: alice), .init(name: "bob", passwordHash: bob)],
                               tokens: [("ops", "ops-token-0123456789")])
        let aliceSession = try #require(access.login(user: "alice", password: "alice-password"))
        let bobSession = try #require(access.login(user: "bob", password: "bob-password"))
        func who(_ session: WebAccess.Session) -> String? {
            access.principal(authorization: nil, cookie: "\(WebAccess.cookieName)=\(session.id)")?.name
        }
        #expect(who(aliceSession) == "alice" && who(bobSession) == "bob")
        let rotated = try #require(WebAccess.bcrypt("alice-new-password", cost: 4))
        let ended = access.update(.init(users: [.init(name: "alice", passwordHash: rotated), .init(name: "bob", passwordHash: bob)],
                                        tokens: [("ops", "new-ops-token-0123456789")]))
        #expect(ended == ["alice"])
        #expect(who(aliceSession) == nil)
        #expect(who(bobSession) == "bob")
        #expect(access.principal(authorization: "Bearer ops-token-0123456789", cookie: nil) == nil)
        #expect(access.principal(authorization: "Bearer new-ops-token-0123456789", cookie: nil)?.name == "token:ops")
        #expect(access.login(user: "alice", password: "alice-password") == nil)
        #expect(access.login(user: "alice", password: "alice-new-password") != nil)
        #expect(access.update(.init(users: [], tokens: [])) == ["alice", "bob"])
        #expect(who(bobSession) == nil && !access.canAct)
    }
}

@Suite("Logs: typed JSON values")
struct TypedLogTests {
    @Test("counts are numbers, flags booleans, label sets objects, a non-finite value Go's text; nothing else changes")
    func typed() {
        var handler = JSONLineLogHandler(label: "test", sink: LineSink(descriptor: -1))
        handler.metadata = [:]
        let line = JSONLineLogHandler.json(.dictionary([
            "alert.count": .stringConvertible(3), "config.reload": .stringConvertible(true), "alert.value": .stringConvertible(0.12),
            "nan": .stringConvertible(Double.nan), "inf": .stringConvertible(-Double.infinity), "rule.name": .string("a\"b"),
            "alert.labels": .dictionary(["alertname": .string("X"), "pod": .string("p-1")]), "list": .array([.stringConvertible(1), .string("x")]),
            "duration": .stringConvertible(Duration.seconds(2)),
        ]))
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        #expect(object?["alert.count"] as? Int == 3)
        #expect(object?["config.reload"] as? Bool == true)
        #expect(object?["alert.value"] as? Double == 0.12)
        #expect(object?["nan"] as? String == "NaN" && object?["inf"] as? String == "-Inf")
        #expect(object?["rule.name"] as? String == "a\"b")
        #expect((object?["alert.labels"] as? [String: String]) == ["alertname": "X", "pod": "p-1"])
        #expect(object?["duration"] as? String == "2.0 seconds")
        #expect(line.contains(#""list":[1,"x"]"#), "\(line)")
    }
}
