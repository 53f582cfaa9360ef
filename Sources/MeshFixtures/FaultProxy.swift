import Foundation
import MeshHTTP

/// The fault-injecting proxy of `Resources/faultproxy.py` on a loopback port, in front of an
/// upstream server (usually the Kubernetes double): it forwards every request as received
/// unless a rule delays it, answers for it, forwards it and then lies or drops the connection,
/// hangs it, or holds it until released. See the script's header for the rules.
public struct FaultProxy: Sendable {
    public let port: Int

    public var url: String { "http://127.0.0.1:\(port)" }

    /// One request the proxy saw, and what it did with it.
    public struct Entry: Decodable, Sendable, Equatable {
        public let method: String
        /// The path as sent, before any unescaping.
        public let path: String
        /// The query as sent, without the `?`.
        public let rawQuery: String
        /// The action of the rule that applied, or `forward`.
        public let action: String
    }

    private var http: HTTPClient { HTTPClient(configuration: .init(timeout: .seconds(5))) }

    /// Replaces the rules; `json` is a JSON array of rules, for example
    /// `[{"method": "PATCH", "dryRun": false, "times": 1, "action": "forward_then_status", "code": 500}]`.
    public func setRules(_ json: String) async throws {
        try await post("/_proxy/rules", Array(json.utf8))
    }

    /// Every request seen so far (control requests aside), in order.
    public func log() async throws -> [Entry] {
        try JSONDecoder().decode([Entry].self, from: Data(try await http.get(url + "/_proxy/log").requireSuccess().body))
    }

    /// The names of the requests a `hold` rule holds now, oldest first.
    public func held() async throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(try await http.get(url + "/_proxy/held").requireSuccess().body))
    }

    /// Lets every request held under `name` go on to the upstream.
    public func release(_ name: String) async throws {
        try await post("/_proxy/release", Array(try JSONEncoder().encode(["name": name])))
    }

    private func post(_ path: String, _ body: [UInt8]) async throws {
        let response = try await http.execute(.json(url: url + path, body: body))
        guard response.isSuccess else {
            throw PrometheusServerError(description: "the fault proxy refused \(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
    }
}

/// Starts a `FaultProxy` on a free loopback port forwarding to `upstream` (a loopback base URL
/// such as a `KubernetesDouble`'s `url`), runs `body`, and always stops it.
public func withFaultProxy<T: Sendable>(upstream: String, _ body: (FaultProxy) async throws -> T) async throws -> T {
    guard let script = Bundle.module.path(forResource: "faultproxy", ofType: "py") else {
        throw PrometheusServerError(description: "faultproxy.py is missing from the MeshFixtures bundle")
    }
    let process = try await ChildProcess.launch(name: "fault-proxy", executable: "/usr/bin/python3",
                                                arguments: [script, "--upstream", upstream], readsStdout: true)
    return try await process.stopping {
        guard let line = await process.firstLine(), let port = Int(line) else {
            throw PrometheusServerError(description: "the fault proxy did not start: \(process.stderrTail())")
        }
        return try await body(FaultProxy(port: port))
    }
}
