import Foundation
import Incidents
import MeshFixtures
import MeshHTTP
import MetricModel
@testable import MeshWatchdCore
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
            let closed = try ClosedPort()
            let closedPort = closed.port
            let config = state + "/config.json"
            try writeConfig(config, prometheus: prometheus.url, sinkURL: "http://127.0.0.1:\(closedPort)/receiver",
                            secretFile: state + "/secret")
            let first = try await harness.start(["--config", config, "--state-directory", state], notify: nil)
            let failing = await first.waitForLog(.seconds(25)) { $0["msg"] == "finding delivery failed; will retry" }
            #expect(failing?["error"]?.contains("connection refused") == true, "log:\n\(first.log)")
            #expect(!first.log.contains("delivery-secret"))
            first.signal(SIGKILL)
            _ = await first.process.waitForExit()
            withExtendedLifetime(closed) {}

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

    @Test("the firing finding carries its runbook's evidence: the workload, its pods and events, the rollout before it")
    func evidenceInFinding() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let harness = DaemonTests()
        let scenario = MeshScenario.live()
        try await withLiveIncident(scenario, state: state) { prometheus, double, receiver, _ async throws in
                    try #"""
                        {"prometheus": {"url": "\#(prometheus.url)"},
                         "kubernetes": {"kubeconfig": "\#(state)/kubeconfig"},
                         "packs": {"istio": {"parameters": {"interval": "1s", "error_rate.for": "2s"}}},
                         "sinks": [{"name": "ops", "type": "webhook", "url": "\#(receiver.url("/receiver"))", "alerts": ["IstioHighErrorRate"]}]}
                        """#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
                    let daemon = try await harness.start(["--config", state + "/config.json", "--state-directory", state], notify: nil)
                    let attached = await daemon.waitForLog(.seconds(40)) { $0["msg"] == "runbook finished; evidence attached" }
                    #expect(attached?["runbook.target"] == "bookinfo/reviews", "log:\n\(daemon.log)")
                    let delivered = await daemon.waitForLog(.seconds(20)) { $0["msg"] == "finding delivered" }
                    #expect(delivered != nil, "log:\n\(daemon.log)")
                    daemon.signal(SIGTERM)
                    _ = await daemon.process.waitForExit()

                    let body = try #require(try await receiver.deliveries().bodies.first)
                    let finding = try Finding.decode(Array(body.utf8))
                    #expect(finding.kind == .firing && finding.alert.labels["destination_workload"] == "reviews")
                    let text = finding.evidence.joined(separator: "\n")
                    #expect(text.contains("target: deployment bookinfo/reviews (destination_workload label)"), "\(text)")
                    #expect(text.contains("pods of the workload: 2 pods in bookinfo (app=reviews), 2 ready, 2 with problems"), "\(text)")
                    #expect(text.contains("BackOff Pod/reviews-v2"), "\(text)")
                    #expect(text.contains("rollout history: a new revision (2, bookinfo/reviews:1.19"), "\(text)")
                    #expect(text.contains("minutes before the alert went pending"), "\(text)")
                    let steps = try #require(finding.diagnostics?["steps"])
                    guard case .array(let list) = steps else { Issue.record("steps is not an array"); return }
                    #expect(list.count == 6)  // the runbook's five steps and its configuration checks (analyze)
                    #expect(finding.diagnostics?["recentRollout"]?["revision"] == .number(2))
        }
    }
}
