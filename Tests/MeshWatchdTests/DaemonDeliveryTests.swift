import Foundation
import Incidents
import MeshFixtures
import MeshHTTP
@testable import MeshWatchd
import Testing

@Suite("The daemon delivers findings through the durable outbox")
struct DaemonDeliveryTests {
    func writeConfig(_ path: String, prometheus: String, sinkURL: String, secretFile: String? = nil) throws {
        let secret = secretFile.map { #", "secret_file": "\#($0)""# } ?? ""
        try #"""
            {"prometheus": {"url": "\#(prometheus)"},
             "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "3s"}}},
             "sinks": [{"name": "ops", "type": "webhook", "url": "\#(sinkURL)"\#(secret), "severities": ["critical"]}]}
            """#.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test("a firing alert reaches the webhook, signed; kill -9 with the receiver down loses nothing")
    func durableDelivery() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try "delivery-secret\n".write(toFile: state + "/secret", atomically: true, encoding: .utf8)
        let harness = DaemonTests()
        try await withPrometheus(openMetrics: MeshScenario.live().openMetrics()) { prometheus async throws in
            // First run: the receiver is down (nothing listens on its port).
            let closedPort = try LoopbackPort.free()
            let config = state + "/config.json"
            try writeConfig(config, prometheus: prometheus.url, sinkURL: "http://127.0.0.1:\(closedPort)/receiver",
                            secretFile: state + "/secret")
            let first = try await harness.start(["--config", config, "--state-directory", state], notify: nil)
            let failing = await first.waitForLog(.seconds(25)) { $0["msg"] == "finding delivery failed; will retry" }
            #expect(failing?["error"]?.contains("connection refused") == true, "log:\n\(first.log)")
            #expect(!first.log.contains("delivery-secret"))
            first.signal(SIGKILL)
            _ = await first.process.waitForExit()

            // Second run: the receiver is up; the queued finding arrives, once.
            try await withEchoServer { receiver async throws in
                try writeConfig(config, prometheus: prometheus.url, sinkURL: receiver.url("/receiver"), secretFile: state + "/secret")
                let second = try await harness.start(["--config", config, "--state-directory", state], notify: nil)
                let delivered = await second.waitForLog(.seconds(20)) { $0["msg"] == "finding delivered" }
                #expect(delivered != nil, "log:\n\(second.log)")
                let seen = try await receiver.deliveries()
                let id = try #require(delivered?["finding.id"])
                #expect(seen.delivered[id] == 1)
                let body = try #require(seen.last.body)
                let finding = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                #expect(finding?["kind"] as? String == "firing")
                #expect((finding?["alert"] as? [String: Any])?["name"] as? String == "IstioHighErrorRate")
                let headers = try #require(seen.last.headers)
                let expected = WebhookSink.signature(body: Array(body.utf8), secret: "delivery-secret",
                                                     timestamp: Int(headers["x-meshwatchd-timestamp"] ?? "") ?? 0)
                #expect(headers["x-meshwatchd-signature"] == expected)
                #expect(headers["idempotency-key"] == id)
                second.signal(SIGTERM)
                #expect(await second.process.waitForExit() == 0)
                #expect(!second.log.contains("delivery-secret"))
            }
        }
    }
}
