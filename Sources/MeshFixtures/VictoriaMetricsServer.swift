import Foundation
import MeshHTTP

/// Debian's single-node VictoriaMetrics on 127.0.0.1, empty, with the flags that make a sample
/// written through `/api/v1/write` visible to the next query at once (as a recording rule's
/// read-back needs): no latency offset, no response cache.
public struct VictoriaMetricsServer: Sendable {
    public let url: String
    public static let readBackFlags = ["-search.latencyOffset=0s", "-search.disableCache"]
}

public func withVictoriaMetrics<T: Sendable>(executable: String = "/usr/bin/victoria-metrics", flags: [String] = VictoriaMetricsServer.readBackFlags,
                                             _ body: (VictoriaMetricsServer) async throws -> T) async throws -> T {
    let root = NSTemporaryDirectory() + "meshwatchd-victoria-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try await withServerOnFreePort("VictoriaMetrics", launch: { port in
        let process = try await ChildProcess.launch(name: "victoria-metrics", executable: executable, arguments: [
            "-httpListenAddr=127.0.0.1:\(port)", "-storageDataPath=\(root)/data-\(port)", "-loggerLevel=ERROR",
        ] + flags, workingDirectory: root)
        return (process, VictoriaMetricsServer(url: "http://127.0.0.1:\(port)"))
    }, ready: { server, process in
        let http = HTTPClient(configuration: .init(connectTimeout: .milliseconds(500), timeout: .seconds(1)))
        defer { http.shutdown() }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            if let response = try? await http.get(server.url + "/health"), response.status == 200 { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }, body)
}
