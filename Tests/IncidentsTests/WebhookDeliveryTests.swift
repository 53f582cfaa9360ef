import AlertEngine
import Foundation
@testable import Incidents
import MeshFixtures
import MeshHTTP
import MetricModel
import Testing

func finding(_ name: String = "IstioHighErrorRate", kind: Finding.Kind = .firing) -> Finding {
    let instance = AlertInstance(labels: Labels(["alertname": name, "severity": "critical", "destination_workload": "reviews"]),
                                 annotations: Labels(["summary": "reviews: 12% of requests fail with 5xx"]), state: .firing,
                                 value: 0.12, activeAt: Date(timeIntervalSince1970: 1_750_002_400),
                                 firedAt: Date(timeIntervalSince1970: 1_750_002_520))
    let transition = AlertTransition(kind: .firing, group: "meshwatchd-istio", rule: name, instance: instance,
                                     at: Date(timeIntervalSince1970: 1_750_002_520))
    return Finding(transition: transition, kind: kind, links: ["runbook": "https://runbooks.example/IstioHighErrorRate"],
                   generatedAt: Date(timeIntervalSince1970: 1_750_002_521))
}

@Suite("Webhook delivery to a loopback receiver")
struct WebhookDeliveryTests {
    let fast = DeliveryPolicy(initialBackoff: .milliseconds(20), maximumBackoff: .seconds(2), maximumAttempts: 6)

    @Test("a receiver that fails twice gets the finding once, on the third attempt, under one idempotency key")
    func retriesUntilDelivered() async throws {
        try await withEchoServer { server async throws in
            let logs = CapturedLogs()
            let sink = WebhookSink(name: "ops", url: server.url("/receiver?fail=2"), secret: nil, http: HTTPClient())
            let report = try await Deliverer(policy: fast, clock: ContinuousClock(), logger: logs.logger())
                .deliver(finding(), via: sink, queuedAt: Date())
            #expect(report.delivered && report.attempts == 3)
            let seen = try await server.deliveries()
            #expect(seen.attempts == [finding().id: 3])
            #expect(seen.delivered == [finding().id: 1])
            #expect(seen.last.headers?["idempotency-key"] == finding().id)
            #expect(logs.entries.filter { $0.message == "finding delivery failed; will retry" }.count == 2)
        }
    }

    @Test("Retry-After is honoured")
    func retryAfter() async throws {
        try await withEchoServer { server async throws in
            let sink = WebhookSink(name: "ops", url: server.url("/receiver?fail=1&retry_after=1"), secret: nil, http: HTTPClient())
            let start = ContinuousClock.now
            let report = try await Deliverer(policy: fast, clock: ContinuousClock(), logger: CapturedLogs().logger())
                .deliver(finding(), via: sink, queuedAt: Date())
            #expect(report.delivered && report.attempts == 2)
            // The policy's own backoff is 20 ms; the receiver asked for a second.
            #expect(ContinuousClock.now - start >= .seconds(1))
        }
    }

    @Test("a 400 is final: one attempt, logged with the response excerpt")
    func badRequestIsFinal() async throws {
        try await withEchoServer { server async throws in
            let logs = CapturedLogs()
            let sink = WebhookSink(name: "ops", url: server.url("/receiver?status=400"), secret: nil, http: HTTPClient())
            let report = try await Deliverer(policy: fast, clock: ContinuousClock(), logger: logs.logger())
                .deliver(finding(), via: sink, queuedAt: Date())
            #expect(!report.delivered && report.attempts == 1)
            #expect(report.lastReason?.contains("HTTP 400, not retried") == true)
            #expect(report.lastReason?.contains("rejected") == true)
            #expect(try await server.deliveries().attempts.values.first == 1)
        }
    }

    @Test("attempts are bounded: a receiver that never recovers is given up on")
    func boundedAttempts() async throws {
        try await withEchoServer { server async throws in
            let sink = WebhookSink(name: "ops", url: server.url("/receiver?fail=100"), secret: nil, http: HTTPClient())
            let report = try await Deliverer(policy: fast, clock: ContinuousClock(), logger: CapturedLogs().logger())
                .deliver(finding(), via: sink, queuedAt: Date())
            #expect(!report.delivered && report.attempts == 6)
            #expect(report.lastReason?.contains("gave up after 6 attempts") == true)
        }
    }

    @Test("the HMAC signature verifies with Python's hmac, and neither secret nor URL token reaches a log line")
    func signatureVerifiesIndependently() async throws {
        try await withEchoServer { server async throws in
            let secret = "hmac-SECRET-5f2a"
            let logs = CapturedLogs()
            let url = server.url("/receiver?fail=1&token=url-SECRET-77")
            let sink = WebhookSink(name: "ops", url: url, secret: secret, http: HTTPClient())
            let report = try await Deliverer(policy: fast, clock: ContinuousClock(), logger: logs.logger())
                .deliver(finding(), via: sink, queuedAt: Date())
            #expect(report.delivered)
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

            let decoded = try Finding.decode(Array(body.utf8))
            #expect(decoded.id == finding().id)
            for entry in logs.entries {
                let line = entry.message + entry.metadata.values.joined()
                #expect(!line.contains(secret) && !line.contains("url-SECRET-77"), "\(line)")
            }
        }
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
