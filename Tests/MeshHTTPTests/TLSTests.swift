import Foundation
import MeshFixtures
import MeshTestKit
import MeshHTTP
import Testing

@Suite("HTTPClient TLS against a local server with a self-signed CA")
struct TLSTests {
    @Test("an unknown CA is refused; the right CA file verifies the server")
    func caFile() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        try await withTestServer(tls: certificates) { server async throws in

            let untrusting = HTTPClient()
            let error = await #expect(throws: HTTPError.self) { try await untrusting.get(server.url("/echo")) }
            #expect(error?.kind == .tls, "\(String(describing: error))")
            #expect(error?.isRetryable == false)

            let trusting = HTTPClient(configuration: .init(tls: .init(caFile: certificates.caCertificate)))
            #expect(try await trusting.get(server.url("/echo")).status == 200)

            // The certificate names 127.0.0.1 and localhost; verification checks the name too.
            #expect(try await trusting.get(server.url("/echo", host: "localhost")).status == 200)
        }
    }

    @Test("skip-verify connects to an unknown CA and logs a warning")
    func insecureSkipVerify() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        try await withTestServer(tls: certificates) { server async throws in
            let logs = CapturedLogs()
            let client = HTTPClient(configuration: .init(tls: .init(insecureSkipVerify: true)), logger: logs.logger())
            #expect(try await client.get(server.url("/echo")).status == 200)
            #expect(logs.entries.contains { $0.level == .warning && $0.message.contains("verification is off") })
        }
    }

    @Test("a client certificate and key are presented to a server that requires them")
    func clientCertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        try await withTestServer(tls: certificates, requireClientCertificate: true) { server async throws in

            let anonymous = HTTPClient(configuration: .init(tls: .init(caFile: certificates.caCertificate)))
            let error = await #expect(throws: HTTPError.self) { try await anonymous.get(server.url("/echo")) }
            #expect(error?.kind == .tls, "\(String(describing: error))")

            let identified = HTTPClient(configuration: .init(tls: .init(
                caFile: certificates.caCertificate, certificateFile: certificates.clientCertificate,
                keyFile: certificates.clientKey)))
            let echo = try Echo(try await identified.get(server.url("/echo")).body)
            #expect(echo.clientCertificate?["commonName"] == "meshwatchd-client")
        }
    }
}
