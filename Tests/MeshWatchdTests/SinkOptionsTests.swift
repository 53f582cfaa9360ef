import Foundation
import Incidents
import Logging
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import Testing

/// The Alertmanager sink's client options from the configuration, as an Alertmanager behind
/// Mimir or Grafana Cloud needs them: headers (inline and from files), basic auth from a file,
/// several URLs.
@Suite("Alertmanager sink options from the configuration: headers, header files, basic auth, several URLs")
struct SinkOptionsTests {
    @Test("what the configuration says reaches the request; the password and header files are read, never inlined")
    func optionsReachTheRequest() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-sink-options-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        try "Bearer tenant-token\n".write(toFile: directory + "/proxy-auth", atomically: true, encoding: .utf8)
        try await withEchoServer { server async throws in
            let closed = try ClosedPort()
            try #"""
                {"prometheus": {"url": "http://127.0.0.1:9"}, "packs": {"istio": {}},
                 "sinks": [{"name": "mimir", "type": "alertmanager", "urls": ["http://127.0.0.1:\#(closed.port)", "\#(server.url("/mimir"))"],
                            "headers": {"X-Scope-OrgID": "team-a"}, "header_files": {"Proxy-Authorization": "proxy-auth"},
                            "basic_auth": {"username": "tenant", "password_file": "password"}}]}
                """#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
            let configuration = try Configuration.load(path: directory + "/config.json")
            let sinks = try ConfiguredSink.build(configuration.sinks ?? [], logger: Logger(label: "test"))
            let sink = try #require(sinks.first?.sink)
            let found = Finding(transition: .init(kind: .firing, group: "g", rule: "A",
                                                  instance: .init(labels: .init(["alertname": "A"]), annotations: .empty, state: .firing,
                                                                  value: 1, activeAt: Date()), at: Date()),
                                kind: .firing, reminder: 0, escalationLevel: 1, generatedAt: Date())
            let echo = try Echo(try await sink.send(body: try found.encoded(), id: found.id, at: Date()).get().body)
            #expect(echo.path == "/mimir/api/v2/alerts")
            #expect(echo.headers["x-scope-orgid"] == "team-a" && echo.headers["proxy-authorization"] == "Bearer tenant-token", "\(echo.headers)")
            #expect(echo.headers["authorization"] == "Basic " + Data("tenant:s3cret".utf8).base64EncodedString())
            withExtendedLifetime(closed) {}
        }
    }
}
