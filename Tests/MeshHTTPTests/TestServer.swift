import MeshFixtures

/// `withEchoServer` with the test's certificates.
func withTestServer<T: Sendable>(
    tls: TestCertificates? = nil, requireClientCertificate: Bool = false,
    _ body: (EchoServer) async throws -> T
) async throws -> T {
    let files = tls.map {
        EchoServer.TLSFiles(certificate: $0.serverCertificate, key: $0.serverKey,
                            clientCA: requireClientCertificate ? $0.caCertificate : nil)
    }
    return try await withEchoServer(tls: files, body)
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
