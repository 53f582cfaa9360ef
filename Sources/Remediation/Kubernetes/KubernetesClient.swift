import Foundation
import Logging
import MeshHTTP

/// The Kubernetes API, as the runbooks and remediation use it: typed GET and LIST, pod logs,
/// and PATCH (merge, JSON, strategic merge) with an optional server-side dry run. Errors carry
/// the API's `Status` (code, reason, message).
public struct KubernetesClient: Sendable {
    public let connection: KubernetesConnection
    let http: HTTPClient

    public init(connection: KubernetesConnection, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "meshwatchd.kubernetes")) {
        self.connection = connection
        http = HTTPClient(configuration: .init(connectTimeout: .seconds(5), timeout: timeout, tls: connection.tls,
                                               authentication: connection.authentication, maxResponseBytes: 32 << 20),
                          logger: logger)
    }

    public enum PatchType: String, Sendable {
        case merge = "application/merge-patch+json"
        case json = "application/json-patch+json"
        case strategicMerge = "application/strategic-merge-patch+json"
    }

    public func get<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        try decode(type, try await send(HTTPRequest(url: connection.server + path, headers: [("Accept", "application/json")])), path: path)
    }

    /// A LIST, optionally filtered by a label selector (`app=reviews,tier!=db`) and a field selector.
    public func list<T: Decodable>(_ type: T.Type, _ path: String, labelSelector: String? = nil, fieldSelector: String? = nil,
                                   limit: Int? = nil) async throws -> [T] {
        var query: [String] = []
        if let labelSelector, !labelSelector.isEmpty { query.append("labelSelector=" + Self.escape(labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append("fieldSelector=" + Self.escape(fieldSelector)) }
        if let limit { query.append("limit=\(limit)") }
        let url = connection.server + path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        return try decode(KubeList<T>.self, try await send(HTTPRequest(url: url, headers: [("Accept", "application/json")])), path: path).items
    }

    /// The last lines of a container's log, at most `limitBytes`.
    public func logs(namespace: String, pod: String, container: String?, tailLines: Int, limitBytes: Int = 256 << 10) async throws -> String {
        var url = connection.server + "/api/v1/namespaces/\(namespace)/pods/\(pod)/log?tailLines=\(tailLines)&limitBytes=\(limitBytes)"
        if let container { url += "&container=" + Self.escape(container) }
        return String(decoding: try await send(HTTPRequest(url: url)).body, as: UTF8.self)
    }

    /// A PATCH; with `dryRun` the server validates and answers without storing.
    @discardableResult
    public func patch<T: Decodable>(_ type: T.Type, _ path: String, body: [UInt8], as patchType: PatchType, dryRun: Bool = false,
                                    fieldManager: String = "meshwatchd") async throws -> T {
        var url = connection.server + path + "?fieldManager=" + fieldManager
        if dryRun { url += "&dryRun=All" }
        let request = HTTPRequest(method: .patch, url: url, headers: [("Content-Type", patchType.rawValue), ("Accept", "application/json")],
                                  body: body)
        return try decode(type, try await send(request), path: path)
    }

    /// POST a new object to a collection.
    public func create(path: String, body: some Encodable) async throws {
        let request = HTTPRequest(method: .post, url: connection.server + path, headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: Array(try JSONEncoder().encode(body)))
        _ = try await send(request)
    }

    /// PUT an object; its `metadata.resourceVersion` makes it fail with 409 if it changed meanwhile.
    public func replace(path: String, body: some Encodable) async throws {
        let request = HTTPRequest(method: .put, url: connection.server + path, headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: Array(try JSONEncoder().encode(body)))
        _ = try await send(request)
    }

    private func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var request = request
        if let exec = connection.exec {
            request.headers.append(("Authorization", "Bearer " + (try await exec.token())))
        }
        var response = try await http.execute(request)
        if response.status == 401, let exec = connection.exec {
            // The plugin's token may have been revoked before its expiry: get a new one, once.
            exec.invalidate()
            request.headers.removeAll { $0.name == "Authorization" }
            request.headers.append(("Authorization", "Bearer " + (try await exec.token())))
            response = try await http.execute(request)
        }
        guard response.isSuccess else { throw KubernetesError(response: response, path: Self.pathOnly(request.url)) }
        return response
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, path: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw KubernetesError(code: response.status, reason: "BadResponse", message: "cannot decode \(T.self): \(error)", path: path)
        }
    }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func pathOnly(_ url: String) -> String {
        URLComponents(string: url)?.path ?? url
    }
}

/// A failed API call: the HTTP code and the `Status` object's reason and message.
public struct KubernetesError: Error, CustomStringConvertible, Sendable {
    public let code: Int
    /// `NotFound`, `Forbidden`, `Conflict`, `Invalid`, `Unauthorized`, …
    public let reason: String
    public let message: String
    public let path: String

    public init(code: Int, reason: String, message: String, path: String) {
        self.code = code
        self.reason = reason
        self.message = message
        self.path = path
    }

    init(response: HTTPResponse, path: String) {
        struct Status: Decodable { var kind: String?; var reason: String?; var message: String? }
        let status = try? JSONDecoder().decode(Status.self, from: Data(response.body))
        if let status, status.kind == "Status" {
            self.init(code: response.status, reason: status.reason ?? "Unknown", message: status.message ?? "", path: path)
        } else {
            self.init(code: response.status, reason: "HTTP\(response.status)",
                      message: String(decoding: response.body.prefix(200), as: UTF8.self), path: path)
        }
    }

    public var isNotFound: Bool { code == 404 }

    public var description: String { "Kubernetes API \(path): \(code) \(reason): \(message)" }
}

struct KubeList<T: Decodable>: Decodable {
    var items: [T]
}
