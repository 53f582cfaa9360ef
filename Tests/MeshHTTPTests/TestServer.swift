import Foundation
import MeshFixtures

/// The Python test server of `Resources/testserver.py` on a free loopback port.
/// Use it through `withTestServer`, which always stops it.
struct TestServer: Sendable {
    let port: Int
    let scheme: String

    func url(_ path: String, host: String = "127.0.0.1") -> String { "\(scheme)://\(host):\(port)\(path)" }
}

func withTestServer<T: Sendable>(
    tls: TestCertificates? = nil, requireClientCertificate: Bool = false,
    _ body: (TestServer) async throws -> T
) async throws -> T {
    guard let script = Bundle.module.path(forResource: "testserver", ofType: "py", inDirectory: "Resources") else {
        throw TestServerError("testserver.py is missing from the test bundle")
    }
    var arguments = [script]
    if let tls {
        arguments += ["--cert", tls.serverCertificate, "--key", tls.serverKey]
        if requireClientCertificate { arguments += ["--client-ca", tls.caCertificate] }
    }
    let process = try await ChildProcess.launch(name: "testserver", executable: "/usr/bin/python3", arguments: arguments, readsStdout: true)
    do {
        guard let line = await process.firstLine(), let port = Int(line) else {
            throw TestServerError("test server did not start: \(process.stderrTail())")
        }
        let result = try await body(TestServer(port: port, scheme: tls == nil ? "http" : "https"))
        await process.stop()
        return result
    } catch {
        await process.stop()
        throw error
    }
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What `/echo` answers: the request as the server saw it.
struct Echo: Decodable {
    let method: String
    let path: String
    let headers: [String: String]
    let body: String
    let client_port: Int
    let client_cert: [String: String]?
}

extension Echo {
    init(_ bytes: [UInt8]) throws { self = try JSONDecoder().decode(Echo.self, from: Data(bytes)) }
}
