import Foundation
@testable import Incidents
import MeshHTTP
import Testing

@Suite("Findings and the delivery policy")
struct FindingTests {
    @Test("a finding carries the alert, severity, links and a versioned schema; its id is stable per transition and kind")
    func document() throws {
        let firing = finding()
        #expect(firing.schema == "meshwatchd.finding/v1")
        #expect(firing.alert.name == "IstioHighErrorRate" && firing.alert.value == "0.12")
        #expect(firing.severity == "critical")
        #expect(firing.links["runbook"] == "https://runbooks.example/IstioHighErrorRate")
        #expect(firing.id == finding().id)
        #expect(firing.id != finding(kind: .resolved).id)
        #expect(firing.id.count == 64)
        let json = try JSONSerialization.jsonObject(with: Data(try firing.encoded())) as? [String: Any]
        #expect(Set(json?.keys.map { $0 } ?? []) == ["schema", "id", "kind", "alert", "severity", "escalationLevel", "evidence",
                                                      "links", "generatedAt"])
        #expect((json?["alert"] as? [String: Any])?["activeAt"] as? String == "2025-06-15T15:46:40.000Z")
        #expect(try Finding.decode(try firing.encoded()) == firing)
    }

    @Test("SHA-256 and HMAC-SHA256 match the standard test vectors")
    func digests() {
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // RFC 4231, test case 2.
        #expect(Digest.hmacSHA256Hex(key: "Jefe", message: Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func response(_ status: Int, headers: [(name: String, value: String)] = []) -> Result<HTTPResponse, HTTPError> {
        .success(HTTPResponse(status: status, headers: headers, body: Array("body".utf8), endpoint: "http://r/<redacted>"))
    }

    @Test("2xx delivered; 5xx and 429 retried with growing backoff; other 4xx final; bounds on attempts and age")
    func verdicts() {
        let policy = DeliveryPolicy(initialBackoff: .seconds(1), maximumBackoff: .seconds(60), jitter: 0, maximumAttempts: 5,
                                    maximumAge: .seconds(3600))
        var random = SystemRandomNumberGenerator()
        let now = Date()
        #expect(policy.verdict(response(204), attempt: 1, age: .zero, now: now, random: &random) == .delivered)
        #expect(policy.verdict(response(503), attempt: 1, age: .zero, now: now, random: &random) == .retry(after: .seconds(1), reason: "HTTP 503: body"))
        #expect(policy.verdict(response(503), attempt: 3, age: .zero, now: now, random: &random) == .retry(after: .seconds(4), reason: "HTTP 503: body"))
        #expect(policy.verdict(response(503), attempt: 9, age: .zero, now: now, random: &random)
                == .giveUp(reason: "HTTP 503: body (gave up after 9 attempts)"))
        #expect(policy.verdict(response(429, headers: [("Retry-After", "30")]), attempt: 1, age: .zero, now: now, random: &random)
                == .retry(after: .seconds(30), reason: "HTTP 429: body"))
        #expect(policy.verdict(response(404), attempt: 1, age: .zero, now: now, random: &random) == .giveUp(reason: "HTTP 404, not retried: body"))
        #expect(policy.verdict(response(500), attempt: 2, age: .seconds(3599), now: now, random: &random)
                == .giveUp(reason: "HTTP 500: body (gave up after 2 attempts: older than 3600.0 seconds)"))
        let refused = HTTPError(kind: .connectionRefused, endpoint: "http://r", message: "refused")
        let tls = HTTPError(kind: .tls, endpoint: "http://r", message: "bad certificate")
        #expect(policy.verdict(.failure(refused), attempt: 1, age: .zero, now: now, random: &random)
                == .retry(after: .seconds(1), reason: "\(refused)"))
        #expect(policy.verdict(.failure(tls), attempt: 1, age: .zero, now: now, random: &random) == .giveUp(reason: "\(tls)"))
    }

    @Test("jitter spreads the backoff within its bounds; Retry-After takes an HTTP date too")
    func jitterAndDates() {
        let policy = DeliveryPolicy(initialBackoff: .seconds(10), jitter: 0.2)
        var random = SystemRandomNumberGenerator()
        let waits = (0..<200).map { _ in policy.backoff(attempt: 1, random: &random) }
        #expect(waits.allSatisfy { $0 >= .seconds(8) && $0 <= .seconds(12) })
        #expect(Set(waits).count > 50)
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        #expect(DeliveryPolicy.parseRetryAfter("Sun, 15 Jun 2025 15:07:10 GMT", now: now) == .seconds(30))
        #expect(DeliveryPolicy.parseRetryAfter("soon", now: now) == nil)
    }

    @Test("the maximum backoff is a cap: jitter spreads retries below it, never past it, at any attempt")
    func jitterNeverPassesTheCap() {
        let policy = DeliveryPolicy()  // 1 s doubling to 5 min, ±20 %
        var random = SystemRandomNumberGenerator()
        for attempt in [9, 10, 12, 64, 1000, Int.max] {
            let waits = (0..<300).map { _ in policy.backoff(attempt: attempt, random: &random) }
            #expect(waits.allSatisfy { $0 <= .seconds(300) }, "attempt \(attempt): \(waits.max() ?? .zero)")
            #expect(waits.contains { $0 < .seconds(290) }, "attempt \(attempt): still spread")
        }
    }
}
