import Foundation
import MeshHTTP

/// Somewhere a finding can be delivered. Each attempt sends the finding as the outbox keeps
/// it (its `encoded()` JSON); the delivery policy judges the response.
public protocol FindingSink: Sendable {
    var name: String { get }
    func send(body: [UInt8], id: String, at time: Date) async throws -> Result<HTTPResponse, HTTPError>
    /// For chat channels: findings of the same alert and kind queued within this long of the
    /// first are sent as one message. nil (the default): one request per finding.
    var groupWait: Duration? { get }
    /// Sends several findings of one alert and kind as one message (only when `groupWait` is set).
    func send(group bodies: [[UInt8]], ids: [String], at time: Date) async throws -> Result<HTTPResponse, HTTPError>
}

extension FindingSink {
    public var groupWait: Duration? { nil }

    public func send(group bodies: [[UInt8]], ids: [String], at time: Date) async throws -> Result<HTTPResponse, HTTPError> {
        try await send(body: bodies[0], id: ids[0], at: time)
    }
}

extension WebhookSink: FindingSink {}

extension HTTPClient {
    /// Posts JSON to a URL that is itself a secret (a key in the path), mapping transport
    /// failures into the result.
    func postSecret(_ url: String, json: [UInt8], headers: [(name: String, value: String)] = []) async throws -> Result<HTTPResponse, HTTPError> {
        var request = HTTPRequest.json(url: url, body: json, urlIsSecret: true)
        request.headers += headers
        do {
            return .success(try await execute(request))
        } catch let error as HTTPError {
            return .failure(error)
        }
    }
}
