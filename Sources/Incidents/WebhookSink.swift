import Foundation
import Logging
import MeshHTTP

/// The generic webhook: the finding as JSON, with an idempotency key and, when a secret is
/// configured, an HMAC-SHA256 signature over `<timestamp>.<body>` and the timestamp, so the
/// receiver can verify it and refuse replays.
///
/// Headers: `Idempotency-Key: <finding id>`, `X-Meshwatchd-Timestamp: <unix seconds>`,
/// `X-Meshwatchd-Signature: v1=<hex>`.
public struct WebhookSink: Sendable {
    public let name: String
    let url: String
    let secret: String?
    let http: HTTPClient

    public init(name: String, url: String, secret: String?, http: HTTPClient) {
        self.name = name
        self.url = url
        self.secret = secret
        self.http = http
    }

    /// The signature header value for a body sent at `timestamp`.
    public static func signature(body: [UInt8], secret: String, timestamp: Int) -> String {
        "v1=" + Digest.hmacSHA256Hex(key: secret, message: Array("\(timestamp).".utf8) + body)
    }

    /// One attempt to deliver `finding`.
    public func send(_ finding: Finding, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        try await send(body: try finding.encoded(), id: finding.id, at: time)
    }

    /// One attempt to deliver an encoded finding (as kept in the outbox).
    public func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        let timestamp = Int(time.timeIntervalSince1970)
        var headers: [(name: String, value: String)] = [("Idempotency-Key", id), ("X-Meshwatchd-Timestamp", String(timestamp)),
                                                       ("User-Agent", "meshwatchd")]
        if let secret { headers.append(("X-Meshwatchd-Signature", Self.signature(body: body, secret: secret, timestamp: timestamp))) }
        return try await http.postSecret(url, json: body, headers: headers)
    }
}

/// Delivers one finding through a sink, retrying as the policy says; waits on `clock`.
public struct Deliverer<C: Clock>: Sendable where C.Duration == Duration {
    public struct Report: Sendable {
        public var delivered: Bool
        public var attempts: Int
        public var lastReason: String?
    }

    let policy: DeliveryPolicy
    let clock: C
    let logger: Logger

    public init(policy: DeliveryPolicy, clock: C, logger: Logger) {
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    public func deliver(_ finding: Finding, via sink: WebhookSink, queuedAt: Date) async throws -> Report {
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        while true {
            attempt += 1
            let now = Date()
            let outcome = try await sink.send(finding, at: now)
            let age = Duration.milliseconds(Int64(max(0, now.timeIntervalSince(queuedAt)) * 1000))
            switch policy.verdict(outcome, attempt: attempt, age: age, now: now, random: &random) {
            case .delivered:
                logger.info("finding delivered", metadata: [
                    "sink.name": "\(sink.name)", "finding.id": "\(finding.id)", "alert.name": "\(finding.alert.name)",
                    "delivery.attempts": "\(attempt)",
                ])
                return Report(delivered: true, attempts: attempt, lastReason: nil)
            case .retry(let wait, let reason):
                logger.warning("finding delivery failed; will retry", metadata: [
                    "sink.name": "\(sink.name)", "finding.id": "\(finding.id)", "delivery.attempt": "\(attempt)",
                    "delivery.retry_in": "\(wait)", "error": "\(reason)",
                ])
                try await clock.sleep(for: wait)
            case .giveUp(let reason):
                logger.error("finding not delivered", metadata: [
                    "sink.name": "\(sink.name)", "finding.id": "\(finding.id)", "delivery.attempts": "\(attempt)", "error": "\(reason)",
                ])
                return Report(delivered: false, attempts: attempt, lastReason: reason)
            }
        }
    }
}
