import Foundation
import Logging

/// A small async HTTP client on libcurl, used for every HTTP call meshwatchd makes.
///
/// Transfers run on a thread of the client's own (see `CurlMultiLoop`); awaiting a response
/// suspends the task without holding a thread of Swift's cooperative pool. Cancelling the
/// task aborts the transfer. Connections are kept alive and reused between requests.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let loop: CurlMultiLoop
    private let tokenFile: BearerTokenFile?

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration(),
                logger: Logger = Logger(label: "meshwatchd.http")) {
        self.configuration = configuration
        self.loop = CurlMultiLoop(name: "meshwatchd-http", maxIdleHandles: configuration.maxIdleHandles)
        if case .bearerTokenFile(let path) = configuration.authentication {
            tokenFile = BearerTokenFile(path: path)
        } else {
            tokenFile = nil
        }
        if configuration.tls.insecureSkipVerify {
            logger.warning("TLS certificate verification is off for this client: any server can impersonate the upstream",
                           metadata: ["http.tls.insecure_skip_verify": "true"])
        }
    }

    deinit { loop.stop() }

    /// Ends the client's thread; requests still in flight fail. Called by `deinit` too.
    public func shutdown() { loop.stop() }

    /// Performs one request and returns the response, whatever its status.
    ///
    /// Throws `HTTPError` for transport failures and `CancellationError` when the task is
    /// cancelled.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        let endpoint = Redaction.endpoint(request.url, secret: request.urlIsSecret)
        let (settings, secrets) = try resolveSettings(for: request, endpoint: endpoint)
        let transfer = CurlTransfer(request: request, settings: settings, endpoint: endpoint,
                                    maxResponseBytes: configuration.maxResponseBytes, secrets: secrets)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.setContinuation(continuation)
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// `GET url`.
    public func get(_ url: String, headers: [(name: String, value: String)] = []) async throws -> HTTPResponse {
        try await execute(HTTPRequest(url: url, headers: headers))
    }

    private func resolveSettings(for request: HTTPRequest, endpoint: String) throws(HTTPError) -> (CurlSettings, [String]) {
        var headers = configuration.headers.map { "\($0.name): \($0.value)" }
        headers += request.headers.map { "\($0.name): \($0.value)" }
        var secrets: [String] = []
        var basic: (String, String)?
        switch configuration.authentication {
        case .none: break
        case .bearerToken(let token):
            headers.append("Authorization: Bearer \(token)")
            secrets.append(token)
        case .bearerTokenFile(let path):
            do {
                let token = try (tokenFile ?? BearerTokenFile(path: path)).token()
                headers.append("Authorization: Bearer \(token)")
                secrets.append(token)
            } catch {
                throw HTTPError(kind: .credentials, endpoint: endpoint, message: error.message)
            }
        case .basic(let username, let password):
            basic = (username, password)
            secrets.append(password)
        }
        for proxy in [configuration.proxy.httpProxy, configuration.proxy.httpsProxy] {
            if let password = proxy.flatMap(URLComponents.init(string:))?.password { secrets.append(password) }
        }
        if let components = URLComponents(string: request.url) {
            if let password = components.password { secrets.append(password) }
            if let query = components.percentEncodedQuery { secrets.append(query) }
            if request.urlIsSecret { secrets.append(components.percentEncodedPath) }
        }
        let settings = CurlSettings(
            connectTimeoutMillis: configuration.connectTimeout.wholeMilliseconds,
            timeoutMillis: (request.timeout ?? configuration.timeout).wholeMilliseconds,
            tls: configuration.tls,
            proxy: configuration.proxy,
            basicAuth: basic,
            headers: headers,
            userAgent: configuration.userAgent
        )
        return (settings, secrets)
    }
}
