import Foundation
import MeshHTTP

/// The loopback HTTP(S) server of `Resources/testserver.py`: echoes requests as JSON, and
/// can hang, stall, answer big bodies or chosen statuses, or act as a recording proxy.
public struct EchoServer: Sendable {
    public let port: Int
    public let scheme: String

    public func url(_ path: String, host: String = "127.0.0.1") -> String { "\(scheme)://\(host):\(port)\(path)" }

    /// TLS files for a server that speaks HTTPS.
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var key: String
        /// When set, the server requires a client certificate signed by this CA.
        public var clientCA: String?

        public init(certificate: String, key: String, clientCA: String? = nil) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
        }
    }
}

/// Starts an `EchoServer` on a free loopback port, runs `body`, and always stops it.
public func withEchoServer<T: Sendable>(tls: EchoServer.TLSFiles? = nil,
                                        _ body: (EchoServer) async throws -> T) async throws -> T {
    guard let script = Bundle.module.path(forResource: "testserver", ofType: "py") else {
        throw PrometheusServerError(description: "testserver.py is missing from the MeshFixtures bundle")
    }
    var arguments = [script]
    if let tls {
        arguments += ["--cert", tls.certificate, "--key", tls.key]
        if let clientCA = tls.clientCA { arguments += ["--client-ca", clientCA] }
    }
    let process = try await ChildProcess.launch(name: "echo-server", executable: "/usr/bin/python3",
                                                arguments: arguments, readsStdout: true)
    return try await process.stopping {
        guard let line = await process.firstLine(), let port = Int(line) else {
            throw PrometheusServerError(description: "echo server did not start: \(process.stderrTail())")
        }
        return try await body(EchoServer(port: port, scheme: tls == nil ? "http" : "https"))
    }
}

/// What the echo server's `/echo` answers: the request as it saw it.
public struct Echo: Decodable, Sendable {
    public let method: String
    public let path: String
    public let headers: [String: String]
    public let body: String
    public let clientPort: Int
    public let clientCertificate: [String: String]?

    enum CodingKeys: String, CodingKey {
        case method, path, headers, body
        case clientPort = "client_port"
        case clientCertificate = "client_cert"
    }

    public init(_ bytes: [UInt8]) throws { self = try JSONDecoder().decode(Echo.self, from: Data(bytes)) }

    /// The form fields of an `application/x-www-form-urlencoded` body.
    public var formFields: [String: String] {
        var fields: [String: String] = [:]
        for item in URLComponents(string: "http://x/?" + body)?.queryItems ?? [] { fields[item.name] = item.value }
        return fields
    }
}

/// What the echo server's `/receiver` saw, from `GET /deliveries`: attempts and deliveries per
/// idempotency key, and the last delivered request.
public struct ReceiverReport: Decodable, Sendable {
    public struct Last: Decodable, Sendable {
        public let headers: [String: String]?
        public let body: String?
        public let time: Double?
    }
    public let attempts: [String: Int]
    public let delivered: [String: Int]
    public let last: Last
    /// Every delivered body, oldest first (the last 500).
    public let bodies: [String]
}

extension EchoServer {
    /// The receiver's report so far.
    public func deliveries() async throws -> ReceiverReport {
        try JSONDecoder().decode(ReceiverReport.self, from: Data(try await HTTPClient().get(url("/deliveries")).body))
    }
}
