import Foundation
import Logging
import MeshHTTP
import MetricModel

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
        try decode(type, try await send(HTTPRequest(url: try url(path), headers: [("Accept", "application/json")])), path: path)
    }

    /// Every object of a LIST, read in pages of `pageSize` (`limit` and `continue`): no single
    /// answer has to fit the response limit, however many or large the objects; at most
    /// `maxPages` pages (then it throws rather than return part of the list as if it were all).
    public func listAll<T: Decodable>(_ type: T.Type, _ path: String, pageSize: Int = 250, maxPages: Int = 400) async throws -> [T] {
        var items: [T] = []
        var token: String?
        for _ in 0..<maxPages {
            var query = KubernetesQuery()
            query.add("limit", String(pageSize))
            if let token { query.add("continue", token) }
            let page = try decode(KubeList<T>.self, try await send(HTTPRequest(url: try url(path, query), headers: [("Accept", "application/json")])), path: path)
            items += page.items
            guard let next = page.metadata?.continue, !next.isEmpty else { return items }
            token = next
        }
        throw KubernetesError(code: 0, reason: "TooLarge", message: "more than \(maxPages) pages of \(pageSize)", path: path)
    }

    /// A LIST, optionally filtered by a label selector (`app=reviews,tier!=db`) and a field selector.
    public func list<T: Decodable>(_ type: T.Type, _ path: String, labelSelector: String? = nil, fieldSelector: String? = nil,
                                   limit: Int? = nil) async throws -> [T] {
        var query = KubernetesQuery()
        if let labelSelector, !labelSelector.isEmpty { query.add("labelSelector", labelSelector) }
        if let fieldSelector, !fieldSelector.isEmpty { query.add("fieldSelector", fieldSelector) }
        if let limit { query.add("limit", String(limit)) }
        let request = HTTPRequest(url: try url(path, query), headers: [("Accept", "application/json")])
        return try decode(KubeList<T>.self, try await send(request), path: path).items
    }

    /// The last lines of a container's log, at most `limitBytes`. The pod and container names
    /// come from API objects, which are outside input too: both are validated.
    public func logs(namespace: String, pod: String, container: String?, tailLines: Int, limitBytes: Int = 256 << 10) async throws -> String {
        let path = try KubernetesPath.namespaced(namespace: namespace, resource: "pods", name: pod, subresource: "log")
        var query = KubernetesQuery()
        query.add("tailLines", String(tailLines))
        query.add("limitBytes", String(limitBytes))
        if let container {
            if let problem = KubernetesName.labelProblem(container) { throw InvalidKubernetesName(what: "container", value: container, problem: problem) }
            query.add("container", container)
        }
        return String(decoding: try await send(HTTPRequest(url: try url(path, query))).body, as: UTF8.self)
    }

    /// A PATCH; with `dryRun` the server validates and answers without storing.
    @discardableResult
    public func patch<T: Decodable>(_ type: T.Type, _ path: String, body: [UInt8], as patchType: PatchType, dryRun: Bool = false,
                                    fieldManager: String = "meshwatchd") async throws -> T {
        try decode(type, try await send(KubernetesWrite(path: path, patchType: patchType, body: body, dryRun: dryRun, fieldManager: fieldManager)),
                   path: path)
    }

    /// Sends one write exactly as the value says: the dry-run flag is a field, and the URL
    /// that goes out is checked to carry `dryRun=All` exactly when it says so, and no other path.
    /// Returns the server's answer (the object as stored, or as it would be for a dry run).
    public func write(_ write: KubernetesWrite) async throws -> JSONValue {
        try decode(JSONValue.self, try await send(write), path: write.path)
    }

    private func send(_ write: KubernetesWrite) async throws -> HTTPResponse {
        var query = KubernetesQuery()
        query.add("fieldManager", write.fieldManager)
        if write.dryRun { query.add("dryRun", "All") }
        let url = try url(write.path, query)
        guard let components = URLComponents(string: url), components.path == write.path, components.fragment == nil,
              (components.queryItems ?? []).contains(where: { $0.name == "dryRun" && $0.value == "All" }) == write.dryRun,
              (components.queryItems ?? []).filter({ $0.name == "dryRun" }).count == (write.dryRun ? 1 : 0) else {
            throw KubernetesError(code: 0, reason: "RefusedRequest", message: "the request URL does not say what the write says (dry run \(write.dryRun))",
                                  path: write.path)
        }
        let request = HTTPRequest(method: .patch, url: url, headers: [("Content-Type", write.patchType.rawValue), ("Accept", "application/json")],
                                  body: write.body)
        return try await send(request)
    }

    /// POST a new object to a collection.
    public func create(path: String, body: some Encodable) async throws {
        let request = HTTPRequest(method: .post, url: try url(path), headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: Array(try JSONEncoder().encode(body)))
        _ = try await send(request)
    }

    /// PUT an object; its `metadata.resourceVersion` makes it fail with 409 if it changed meanwhile.
    public func replace(path: String, body: some Encodable) async throws {
        let request = HTTPRequest(method: .put, url: try url(path), headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: Array(try JSONEncoder().encode(body)))
        _ = try await send(request)
    }

    /// The server's URL for a checked path and an encoded query: nothing outside `KubernetesPath`'s
    /// alphabet reaches libcurl (which would normalise `..` and never send a `#` fragment).
    func url(_ path: String, _ query: KubernetesQuery = KubernetesQuery()) throws -> String {
        if let problem = KubernetesPath.problem(path) {
            throw KubernetesError(code: 0, reason: "RefusedRequest", message: "refusing to send a request whose path \(problem)",
                                  path: KubernetesName.quoted(path))
        }
        return connection.server + path + (query.items.isEmpty ? "" : "?" + query.encoded)
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

    static func pathOnly(_ url: String) -> String {
        URLComponents(string: url)?.path ?? url
    }
}

/// A failed API call: the HTTP code and the `Status` object's reason and message.
public struct KubernetesError: Error, CustomStringConvertible, Sendable {
    /// 0: refused before sending (the request was never made).
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
    /// The server answered that the write did not happen (a 4xx), or it was never sent: a
    /// definite "no". A 5xx, a timeout or a lost connection leaves the outcome unknown.
    public var isDefiniteRefusal: Bool { code == 0 || (400..<500).contains(code) && code != 408 && code != 429 }

    public var description: String { "Kubernetes API \(path): \(code) \(reason): \(message)" }
}

struct KubeList<T: Decodable>: Decodable {
    struct Meta: Decodable { var `continue`: String? }
    var items: [T]
    var metadata: Meta?
}

/// One write as a value: where, what, and whether it is a server-side dry run.
public struct KubernetesWrite: Sendable, Equatable {
    public var path: String
    public var patchType: KubernetesClient.PatchType
    public var body: [UInt8]
    public var dryRun: Bool
    public var fieldManager: String

    public init(path: String, patchType: KubernetesClient.PatchType, body: [UInt8], dryRun: Bool, fieldManager: String = "meshwatchd") {
        self.path = path
        self.patchType = patchType
        self.body = body
        self.dryRun = dryRun
        self.fieldManager = fieldManager
    }

    /// The same write as a server-side dry run, or for real.
    public func asDryRun(_ dryRun: Bool) -> KubernetesWrite {
        var copy = self
        copy.dryRun = dryRun
        return copy
    }
}
