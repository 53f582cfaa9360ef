import Foundation
import MeshHTTP

/// The Kubernetes API double of `Resources/kubeapi.py` on a loopback port: stateful,
/// discovery good enough for kubectl, a deployment controller. See the script's header.
public struct KubernetesDouble: Sendable {
    public let port: Int
    public let scheme: String
    /// Accepted bearer token, when authentication is on.
    public let token: String?

    public var url: String { "\(scheme)://127.0.0.1:\(port)" }

    /// One write the double received (dry runs included).
    public struct Request: Decodable, Sendable {
        public let method: String
        public let path: String
        public let query: [String: String]
        public let contentType: String
        public let body: String
        public let dryRun: Bool
        /// The path and query exactly as they reached the server.
        public let rawPath: String
        public let rawQuery: String
    }

    private var http: HTTPClient { HTTPClient(configuration: .init(timeout: .seconds(5), tls: .init(insecureSkipVerify: scheme == "https"))) }

    /// Every write so far, in order.
    public func requests() async throws -> [Request] {
        try JSONDecoder().decode([Request].self, from: Data(try await http.get(url + "/_double/requests").body))
    }

    /// Creates objects as a client would (the controller runs); `objects` is a JSON array.
    public func seed(_ objects: String) async throws {
        let response = try await http.execute(.json(url: url + "/_double/seed", body: Array(objects.utf8)))
        guard response.isSuccess else { throw PrometheusServerError(description: "seeding the double failed: \(response.status)") }
    }

    /// A kubeconfig for kubectl (and meshwatchd) pointing at the double, with `user` as the
    /// user entry's YAML (for example `token: abc` or `client-certificate: /path`).
    public func kubeconfig(user: String = "{}", caFile: String? = nil, namespace: String = "default") -> String {
        let cluster = caFile.map { "{server: \"\(url)\", certificate-authority: \"\($0)\"}" } ?? "{server: \"\(url)\"}"
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: double
              cluster: \(cluster)
            users:
            - name: user
              user: \(user)
            contexts:
            - name: double
              context: {cluster: double, user: user, namespace: \(namespace)}
            current-context: double
            """
    }
}

/// Starts the Kubernetes double on a free loopback port (HTTPS with `tls`; authentication by
/// `token` and, with `tls.clientCA`, client certificates), seeded with `seed` (a JSON array of
/// objects), runs `body`, and always stops it.
public func withKubernetes<T: Sendable>(seed: String? = nil, tls: EchoServer.TLSFiles? = nil, token: String? = nil,
                                        _ body: (KubernetesDouble) async throws -> T) async throws -> T {
    guard let script = Bundle.module.path(forResource: "kubeapi", ofType: "py") else {
        throw PrometheusServerError(description: "kubeapi.py is missing from the MeshFixtures bundle")
    }
    var arguments = [script]
    var seedFile: String?
    if let seed {
        let file = NSTemporaryDirectory() + "meshwatchd-kube-seed-" + UUID().uuidString + ".json"
        try await offPool { try seed.write(toFile: file, atomically: true, encoding: .utf8) }
        seedFile = file
        arguments += ["--seed", file]
    }
    defer { if let seedFile { try? FileManager.default.removeItem(atPath: seedFile) } }
    if let tls {
        arguments += ["--cert", tls.certificate, "--key", tls.key]
        if let clientCA = tls.clientCA { arguments += ["--client-ca", clientCA] }
    }
    if let token { arguments += ["--token", token] }
    let process = try await ChildProcess.launch(name: "kubernetes-double", executable: "/usr/bin/python3", arguments: arguments,
                                                readsStdout: true)
    return try await process.stopping {
        guard let line = await process.firstLine(), let port = Int(line) else {
            throw PrometheusServerError(description: "the Kubernetes double did not start: \(process.stderrTail())")
        }
        return try await body(KubernetesDouble(port: port, scheme: tls == nil ? "http" : "https", token: token))
    }
}
