import Foundation
import MeshHTTP

/// Debian's single-node VictoriaMetrics on 127.0.0.1, empty, with the flags that make a sample
/// written through `/api/v1/write` visible to the next query at once (as a recording rule's
/// read-back needs): no latency offset, no response cache.
public struct VictoriaMetricsServer: Sendable {
    public let url: String
    public static let readBackFlags = ["-search.latencyOffset=0s", "-search.disableCache"]

    /// Backfills OpenMetrics text (timestamps in seconds, as promtool's backfill takes it) through
    /// `/api/v1/import/prometheus` (the exposition format, timestamps in milliseconds), then
    /// flushes so the next query sees every sample.
    public func importOpenMetrics(_ text: String) async throws {
        let http = HTTPClient(configuration: .init(timeout: .seconds(120)))
        defer { http.shutdown() }
        var body = ""
        func send() async throws {
            guard !body.isEmpty else { return }
            let response = try await http.execute(HTTPRequest(method: .post, url: url + "/api/v1/import/prometheus",
                                                              headers: [("Content-Type", "text/plain")], body: Array(body.utf8)))
            guard response.isSuccess else {
                throw PrometheusServerError(description: "VictoriaMetrics import: HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
            }
            body = ""
        }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            // `name{labels} value timestamp`: the timestamp is the last field (label values hold no space here).
            guard let space = line.lastIndex(of: " "), let seconds = Double(line[line.index(after: space)...]) else {
                throw PrometheusServerError(description: "VictoriaMetrics import: no timestamp in \(line.prefix(200))")
            }
            body += line[..<space] + " \(Int64((seconds * 1000).rounded()))\n"
            if body.utf8.count > 4 << 20 { try await send() }
        }
        try await send()
        let flushed = try await http.get(url + "/internal/force_flush")
        guard flushed.isSuccess else { throw PrometheusServerError(description: "VictoriaMetrics force_flush: HTTP \(flushed.status)") }
    }
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
