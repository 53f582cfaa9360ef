import Foundation
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
    /// Rendered into the finding's `message` before it is signed and sent.
    var template: MessageTemplate?

    public init(name: String, url: String, secret: String?, template: MessageTemplate? = nil, http: HTTPClient) {
        self.template = template
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
    public func send(body original: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        var body = original
        if let template {
            var finding = try Finding.decode(original)
            finding.message = template.render(finding)
            body = try finding.encoded()
        }
        let timestamp = Int(time.timeIntervalSince1970)
        var headers: [(name: String, value: String)] = [("Idempotency-Key", id), ("X-Meshwatchd-Timestamp", String(timestamp)),
                                                       ("User-Agent", "meshwatchd")]
        if let secret { headers.append(("X-Meshwatchd-Signature", Self.signature(body: body, secret: secret, timestamp: timestamp))) }
        return try await http.postSecret(url, json: body, headers: headers)
    }
}
