import AlertEngine
import Foundation
import Incidents
import Logging
import MeshFixtures
import MeshTestKit
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import Testing

/// Delivery through the durable outbox and its worker, as the daemon delivers: a finding is
/// queued in the state store, the worker sends it to a loopback receiver under the policy.
@Suite("Outbox delivery to a loopback receiver")
struct OutboxDeliveryTests {
    let fast = DeliveryPolicy(initialBackoff: .milliseconds(20), maximumBackoff: .seconds(2), maximumAttempts: 6)

    static func finding() -> Finding {
        let instance = AlertInstance(labels: Labels(["alertname": "IstioHighErrorRate", "severity": "critical", "destination_workload": "reviews"]),
                                     annotations: Labels(["summary": "reviews: 12% of requests fail with 5xx"]), state: .firing,
                                     value: 0.12, activeAt: Date(timeIntervalSince1970: 1_750_002_400),
                                     firedAt: Date(timeIntervalSince1970: 1_750_002_520))
        return Finding(transition: AlertTransition(kind: .firing, group: "istio", rule: "IstioHighErrorRate", instance: instance,
                                                   at: Date(timeIntervalSince1970: 1_750_002_520)),
                       kind: .firing, generatedAt: Date(timeIntervalSince1970: 1_750_002_521))
    }

    struct Outcome {
        var logs: CapturedLogs
        var counters: (delivered: Int, retried: Int, failed: Int)
        var elapsed: Duration
    }

    /// Queues `finding` for `sink`, runs the worker until the outbox is empty, and reports.
    func deliver(_ finding: Finding, via sink: any FindingSink) async throws -> Outcome {
        let path = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try StateStore(path: path + "/state.sqlite", logger: Logger(label: "test"))
        var plan = NotificationPlan()
        plan.outgoing = [OutgoingFinding(sink: sink.name, id: finding.id, alertKey: "istio/\(finding.alert.fingerprint)",
                                         alertName: finding.alert.name, kind: finding.kind, body: try finding.encoded())]
        try store.save(plan: plan)
        let logs = CapturedLogs()
        let status = DaemonStatus()
        let signal = OutboxSignal()
        let worker = OutboxWorker(store: SQLiteOutbox(store: store), sinks: [sink], policy: fast, signal: signal, reporter: status, logger: logs.logger())
        let start = ContinuousClock.now
        signal.raise()
        let running = Task { await worker.run() }
        // Ends as soon as the outbox drains; the bound only stops a broken worker (a busy machine
        // once needed more than 30 s for six attempts with their backoff).
        let deadline = start + .seconds(120)
        while store.queuedCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let elapsed = ContinuousClock.now - start
        running.cancel()
        await running.value
        #expect(store.queuedCount == 0, "the outbox did not drain")
        return Outcome(logs: logs, counters: await status.deliveries[sink.name] ?? (0, 0, 0), elapsed: elapsed)
    }

    @Test("a receiver that fails twice gets the finding once, on the third attempt, under one idempotency key")
    func retriesUntilDelivered() async throws {
        try await withEchoServer { server async throws in
            let finding = Self.finding()
            let outcome = try await deliver(finding, via: WebhookSink(name: "ops", url: server.url("/receiver?fail=2"), secret: nil, http: HTTPClient()))
            #expect(outcome.counters == (1, 2, 0))
            let seen = try await server.deliveries()
            #expect(seen.attempts == [finding.id: 3])
            #expect(seen.delivered == [finding.id: 1])
            #expect(seen.last.headers?["idempotency-key"] == finding.id)
            #expect(outcome.logs.entries.filter { $0.message == "finding delivery failed; will retry" }.count == 2)
            #expect(outcome.logs.entries.last?.metadata["delivery.attempt"].map { "\($0)" } == "3")
        }
    }

    @Test("Retry-After is honoured")
    func retryAfter() async throws {
        try await withEchoServer { server async throws in
            let outcome = try await deliver(Self.finding(), via: WebhookSink(name: "ops", url: server.url("/receiver?fail=1&retry_after=1"),
                                                                             secret: nil, http: HTTPClient()))
            #expect(outcome.counters == (1, 1, 0))
            // The policy's own backoff is 20 ms; the receiver asked for a second.
            #expect(outcome.elapsed >= .seconds(1))
        }
    }

    @Test("a 400 is final: one attempt, logged with the response excerpt")
    func badRequestIsFinal() async throws {
        try await withEchoServer { server async throws in
            let outcome = try await deliver(Self.finding(), via: WebhookSink(name: "ops", url: server.url("/receiver?status=400"), secret: nil,
                                                                             http: HTTPClient()))
            #expect(outcome.counters == (0, 0, 1))
            let error = try #require(outcome.logs.entries.first { $0.message == "finding not delivered" }?.metadata["error"])
            #expect(error.contains("HTTP 400, not retried") && error.contains("rejected"))
            #expect(try await server.deliveries().attempts.values.first == 1)
        }
    }

    @Test("attempts are bounded: a receiver that never recovers is given up on")
    func boundedAttempts() async throws {
        try await withEchoServer { server async throws in
            let outcome = try await deliver(Self.finding(), via: WebhookSink(name: "ops", url: server.url("/receiver?fail=100"), secret: nil,
                                                                             http: HTTPClient()))
            #expect(outcome.counters == (0, 5, 1))
            #expect(outcome.logs.entries.last?.metadata["error"]?.contains("gave up after 6 attempts") == true)
            #expect(try await server.deliveries().attempts.values.first == 6)
        }
    }

    @Test("the HMAC signature verifies with Python's hmac, and neither secret nor URL token reaches a log line")
    func signatureVerifiesIndependently() async throws {
        try await withEchoServer { server async throws in
            let secret = "hmac-SECRET-5f2a"
            let url = server.url("/receiver?fail=1&token=url-SECRET-77")
            let finding = Self.finding()
            let outcome = try await deliver(finding, via: WebhookSink(name: "ops", url: url, secret: secret, http: HTTPClient()))
            #expect(outcome.counters.delivered == 1)
            let last = try await server.deliveries().last
            let headers = try #require(last.headers)
            let body = try #require(last.body)
            let timestamp = try #require(headers["x-meshwatchd-timestamp"])
            let signature = try #require(headers["x-meshwatchd-signature"])
            let script = """
                import hmac, hashlib, sys
                body = sys.stdin.buffer.read()
                expected = "v1=" + hmac.new(sys.argv[1].encode(), sys.argv[2].encode() + b"." + body, hashlib.sha256).hexdigest()
                print("valid" if hmac.compare_digest(expected, sys.argv[3]) else "invalid")
                """
            let file = NSTemporaryDirectory() + "meshwatchd-body-\(UUID().uuidString)"
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let verdict = try await ChildProcess.run("/bin/sh", ["-c", "python3 -c '\(script)' '\(secret)' '\(timestamp)' '\(signature)' < \(file)"])
            #expect(verdict.output.trimmingCharacters(in: .whitespacesAndNewlines) == "valid", "\(verdict.output)")
            // A tampered body does not verify.
            try (body + " ").write(toFile: file, atomically: true, encoding: .utf8)
            let tampered = try await ChildProcess.run("/bin/sh", ["-c", "python3 -c '\(script)' '\(secret)' '\(timestamp)' '\(signature)' < \(file)"])
            #expect(tampered.output.trimmingCharacters(in: .whitespacesAndNewlines) == "invalid")

            #expect(try Finding.decode(Array(body.utf8)).id == finding.id)
            #expect(outcome.logs.entries.count >= 2)  // the retry and the delivery
            for entry in outcome.logs.entries {
                let line = entry.message + entry.metadata.values.joined()
                #expect(!line.contains(secret) && !line.contains("url-SECRET-77"), "\(line)")
            }
        }
    }
}
