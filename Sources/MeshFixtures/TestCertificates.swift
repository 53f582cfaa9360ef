import Foundation

/// A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, made
/// with the `openssl` command in a temporary directory.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }

    /// Makes the files off the cooperative pool (openssl runs as a child process).
    public static func make() async throws -> TestCertificates {
        try await offPool { try TestCertificates() }
    }

    private init() throws {
        directory = NSTemporaryDirectory() + "meshwatchd-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=meshwatchd test CA",
                 "-keyout", directory + "/ca.key", "-out", caCertificate])
        try issue(name: "server", subject: "/CN=127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost")
        try issue(name: "client", subject: "/CN=meshwatchd-client", extensions: "extendedKeyUsage=clientAuth")
    }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }

    private func issue(name: String, subject: String, extensions: String) throws {
        let extFile = directory + "/\(name).ext"
        try extensions.write(toFile: extFile, atomically: true, encoding: .utf8)
        try run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                 "-keyout", directory + "/\(name).key", "-out", directory + "/\(name).csr"])
        try run(["x509", "-req", "-in", directory + "/\(name).csr", "-CA", caCertificate,
                 "-CAkey", directory + "/ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", extFile, "-out", directory + "/\(name).pem"])
    }

    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PrometheusServerError(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed")
        }
    }
}
