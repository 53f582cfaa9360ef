import Foundation
import Hummingbird
import Logging
import MeshHTTP
import Remediation

/// With leader election, a follower answers the page and the API with the leader's state: it
/// forwards every request but its own probes and metrics to the listener the leader announced
/// in the Lease. A forwarded request is never forwarded again (a stale Lease cannot make a loop).
struct LeaderForwarding: RouterMiddleware {
    typealias Context = BasicRequestContext

    let leadership: Leadership
    let http: HTTPClient
    let logger: Logger

    static let marker = HTTPField.Name("X-Meshwatchd-Forwarded")!
    /// Probes and metrics describe this replica, not the leader.
    static let local: Set<String> = ["/healthz", "/readyz", "/metrics", "/-/healthy", "/-/ready"]
    static let requestHeaders: [HTTPField.Name] = [
        .cookie, .authorization, .contentType, .origin, .accept, HTTPField.Name("X-CSRF-Token")!, HTTPField.Name("X-Forwarded-Proto")!,
    ]
    static let responseHeaders: [HTTPField.Name] = [
        .contentType, .location, .setCookie, .cacheControl, HTTPField.Name("Content-Security-Policy")!,
        HTTPField.Name("X-Content-Type-Options")!, HTTPField.Name("Referrer-Policy")!,
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !leadership.isLeader, !Self.local.contains(request.uri.path), request.headers[Self.marker] == nil else {
            return try await next(request, context)
        }
        let leader = leadership.observedLeader
        // Only an http(s) URL: the Lease is the leader's word, and requests carry users' cookies and tokens.
        guard let base = leader.url, base.hasPrefix("http://") || base.hasPrefix("https://"), URLComponents(string: base)?.host != nil else {
            return try await next(request, context)  // no leader known: this replica's own (following) answer
        }
        var request = request
        let collected = try? await request.collectBody(upTo: Console.maxForm)
        // A body only when there is one (libcurl turns a request with a body into a POST).
        let body = collected.flatMap { $0.readableBytes > 0 ? Array($0.readableBytesView) : nil }
        var headers: [(name: String, value: String)] = [(Self.marker.rawName, "1")]
        for name in Self.requestHeaders {
            if let value = request.headers[name] { headers.append((name.rawName, value)) }
        }
        // The Host the browser used, for the leader's Origin check.
        headers.append(("X-Forwarded-Host", request.headers[HTTPField.Name("X-Forwarded-Host")!] ?? request.head.authority ?? ""))
        let target = (base.hasSuffix("/") ? String(base.dropLast()) : base) + request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        let method = MeshHTTP.HTTPRequest.Method(rawValue: request.method.rawValue) ?? .get
        do {
            let answer = try await http.execute(MeshHTTP.HTTPRequest(method: method, url: target, headers: headers,
                                                                     body: body, timeout: .seconds(10)))
            var fields = HTTPFields()
            for name in Self.responseHeaders {
                for header in answer.headers where header.name.lowercased() == name.canonicalName { fields.append(HTTPField(name: name, value: header.value)) }
            }
            return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        } catch {
            logger.warning("cannot reach the leader", metadata: ["leader.identity": "\(leader.identity ?? "")", "error": "\(error)"])
            return Response(status: .badGateway, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "the leader (\(leader.identity ?? "?")) cannot be reached: \(error)\n")))
        }
    }
}
