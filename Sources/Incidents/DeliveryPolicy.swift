import AlertModel
import Foundation
import MeshHTTP

/// What to do after one delivery attempt, as Alertmanager's notifiers decide: 2xx is done;
/// 5xx, 429 and network trouble are retried with exponential backoff and jitter (honouring
/// `Retry-After`); other 4xx, TLS and size failures are final. Attempts and age are bounded.
public struct DeliveryPolicy: Sendable {
    public var initialBackoff: Duration = .seconds(1)
    public var maximumBackoff: Duration = .seconds(300)
    /// ±this share of each backoff is random, so many senders do not retry in step.
    public var jitter: Double = 0.2
    public var maximumAttempts = 12
    public var maximumAge: Duration = .seconds(24 * 3600)

    public init(initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(300), jitter: Double = 0.2,
                maximumAttempts: Int = 12, maximumAge: Duration = .seconds(24 * 3600)) {
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.jitter = jitter
        self.maximumAttempts = maximumAttempts
        self.maximumAge = maximumAge
    }

    public enum Verdict: Sendable, Equatable {
        case delivered
        case retry(after: Duration, reason: String)
        case giveUp(reason: String)
    }

    /// The verdict on attempt number `attempt` (1-based) of a finding first queued `age` ago.
    public func verdict(_ outcome: Result<HTTPResponse, HTTPError>, attempt: Int, age: Duration, now: Date,
                        random: inout some RandomNumberGenerator) -> Verdict {
        let reason: String
        var retryAfter: Duration?
        switch outcome {
        case .success(let response) where response.isSuccess:
            return .delivered
        case .success(let response):
            let excerpt = String(decoding: response.body.prefix(200), as: UTF8.self)
            guard response.status >= 500 || response.status == 429 else {
                return .giveUp(reason: "HTTP \(response.status), not retried: \(excerpt)")
            }
            reason = "HTTP \(response.status): \(excerpt)"
            retryAfter = response.header("Retry-After").flatMap { Self.parseRetryAfter($0, now: now) }
        case .failure(let error):
            guard error.isRetryable else { return .giveUp(reason: "\(error)") }
            reason = "\(error)"
        }
        if attempt >= maximumAttempts { return .giveUp(reason: "\(reason) (gave up after \(attempt) attempts)") }
        var wait = backoff(attempt: attempt, random: &random)
        if let retryAfter { wait = max(wait, min(retryAfter, maximumBackoff)) }
        if age + wait > maximumAge {
            return .giveUp(reason: "\(reason) (gave up after \(attempt) attempts: older than \(maximumAge))")
        }
        return .retry(after: wait, reason: reason)
    }

    /// initial × 2^(attempt−1) with ± jitter, never above the maximum (the cap is a promise:
    /// jitter spreads retries below it, not past it).
    public func backoff(attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        let base = min(initialBackoff.seconds * pow(2, Double(min(max(attempt - 1, 0), 62))), maximumBackoff.seconds)
        let spread = base * jitter
        let seconds = min(max(0, base + Double.random(in: -spread...spread, using: &random)), maximumBackoff.seconds)
        return .milliseconds(Int64(seconds * 1000))
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        if let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }
}
