import Foundation
import Testing

/// Every secret kind the configuration can hold, and the daemon's log at `trace`: none appears.
@Suite("Secrets never reach the log, even at trace")
struct SecretLoggingTests {
    @Test("HMAC secret, Slack URL, PagerDuty routing key, URL credentials and tokens: absent from every log line at trace")
    func trace() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let secrets = ["PROMPASSWORD7", "URLTOKEN7", "HMACSECRET7", "SLACKSECRET7", "PDROUTINGKEY7", "AMPASSWORD7"]
        try "PDROUTINGKEY7".write(toFile: state + "/routing-key", atomically: true, encoding: .utf8)
        // The signing secret from a file, as the configuration takes it (an inline `secret` key,
        // which this test once used, was never read: it is refused now as an unknown key).
        try "HMACSECRET7".write(toFile: state + "/hmac-secret", atomically: true, encoding: .utf8)
        try #"""
            {"prometheus": {"url": "http://reader:PROMPASSWORD7@127.0.0.1:9"}, "packs": {"istio": {"parameters": {"interval": "1s"}}},
             "notifications": {"datasource_down_after": "1s"},
             "sinks": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/hook?token=URLTOKEN7", "secret_file": "hmac-secret"},
                       {"name": "chat", "type": "slack", "url": "http://127.0.0.1:9/services/T0/B0/SLACKSECRET7"},
                       {"name": "pager", "type": "pagerduty", "routing_key_file": "routing-key", "url": "http://127.0.0.1:9/v2/enqueue"},
                       {"name": "am", "type": "alertmanager", "url": "http://admin:AMPASSWORD7@127.0.0.1:9"}]}
            """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
        let daemon = try await DaemonTests().start(["--config", state + "/config.json", "--state-directory", state, "--log-level", "trace"], notify: nil)
        defer { daemon.signal(SIGKILL) }
        // Progress first: the service lifecycle started (the routing key file, relative to the
        // configuration file, was found) and deliveries were attempted and failed.
        let lifecycle = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "Starting service" }
        #expect(lifecycle != nil, "\(daemon.log.suffix(2000))")
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline && !daemon.log.contains("MeshWatchDatasourceDown") { try await Task.sleep(for: .milliseconds(200)) }
        try await Task.sleep(for: .seconds(3))
        daemon.signal(SIGTERM)
        _ = await daemon.process.waitForExit()
        let log = daemon.log
        #expect(log.contains("MeshWatchDatasourceDown"), "\(log.suffix(2000))")
        for secret in secrets {
            #expect(!log.contains(secret), "\(secret) in:\n\(log.split(separator: "\n").filter { $0.contains(secret) }.prefix(3).joined(separator: "\n"))")
        }
    }
}
