import Foundation
import MeshHTTP
import PromClient
import Synchronization

private let directoriesToRemove = Mutex<[String]>([])
private let removalRegistered: Void = {
    atexit {
        for directory in directoriesToRemove.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: directory) }
    }
}()

/// Removes `directory` when the process exits normally.
func removeAtExit(_ directory: String) {
    _ = removalRegistered
    directoriesToRemove.withLock { $0.append(directory) }
}

/// A real Prometheus (Debian's `prometheus` binary) on 127.0.0.1, serving backfilled data.
public struct PrometheusServer: Sendable {
    public let url: String
    public let port: Int
    public let dataDirectory: String
}

public struct PrometheusServerError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Backfills `openMetrics` with promtool, starts Prometheus over a private copy of the
/// blocks on a free loopback port, waits until it is ready, runs `body`, and stops
/// Prometheus and removes its files whatever `body` does.
public func withPrometheus<T: Sendable>(
    openMetrics: String,
    prometheus: String = "/usr/bin/prometheus",
    promtool: String = "/usr/bin/promtool",
    routePrefix: String? = nil,
    configuration: String = "global:\n  scrape_interval: 15s\n",
    files: [String: String] = [:],
    arguments: [String] = [],
    _ body: (PrometheusServer) async throws -> T
) async throws -> T {
    let blocks = try await BackfillCache.shared.blocks(for: openMetrics, promtool: promtool)
    let root = NSTemporaryDirectory() + "meshwatchd-prometheus-" + UUID().uuidString
    let data = root + "/data"
    try await offPool {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: blocks, toPath: data)
        // By default no scrape jobs: this Prometheus only answers queries over the backfilled blocks.
        try configuration.write(toFile: root + "/prometheus.yml", atomically: true, encoding: .utf8)
        for (name, content) in files { try content.write(toFile: root + "/" + name, atomically: true, encoding: .utf8) }
    }
    defer { try? FileManager.default.removeItem(atPath: root) }

    return try await withServerOnFreePort("Prometheus", launch: { port in
        let process = try await ChildProcess.launch(name: "prometheus", executable: prometheus, arguments: [
            "--config.file=\(root)/prometheus.yml",
            "--storage.tsdb.path=\(data)",
            "--storage.tsdb.retention.time=100y",
            "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn",
        ] + arguments + (routePrefix.map { ["--web.route-prefix=\($0)", "--web.external-url=http://127.0.0.1:\(port)\($0)"] } ?? []),
        workingDirectory: root)
        return (process, PrometheusServer(url: "http://127.0.0.1:\(port)\(routePrefix ?? "")", port: port, dataDirectory: data))
    }, ready: waitUntilReady, body)
}

/// A Prometheus configuration and flags that take remote writes (`/api/v1/write`) at any time
/// since 1970: test data and replays write samples older than the head (behind backfilled
/// blocks), which Prometheus 2.42 refuses unless an out-of-order window covers them.
public enum RemoteWriteReceiver {
    public static let configuration = "global:\n  scrape_interval: 15s\nstorage:\n  tsdb:\n    out_of_order_time_window: 100y\n"
    public static let arguments = ["--web.enable-remote-write-receiver"]
}

/// Ready, and ours: another test's Prometheus may have taken the port first (ours then fails
/// to bind and exits), so the answer must name our data directory.
private func waitUntilReady(_ server: PrometheusServer, process: ChildProcess) async -> Bool {
    let http = HTTPClient(configuration: .init(connectTimeout: .milliseconds(500), timeout: .seconds(1)))
    defer { http.shutdown() }
    guard let client = try? PrometheusClient(baseURL: server.url, http: http) else { return false }
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline, process.isRunning {
        if await client.isReady() {
            guard let flags = try? await http.get(server.url + "/api/v1/status/flags"),
                  let object = try? JSONSerialization.jsonObject(with: Data(flags.body)) as? [String: Any],
                  let path = (object["data"] as? [String: String])?["storage.tsdb.path"] else { return false }
            return path == server.dataDirectory
        }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// Backfilled blocks by content, made once per process: many tests share one dataset and
/// each Prometheus gets a copy. The blocks are removed when the process exits.
actor BackfillCache {
    static let shared = BackfillCache()
    private var directories: [String: Task<String, any Error>] = [:]

    func blocks(for openMetrics: String, promtool: String) async throws -> String {
        if let existing = directories[openMetrics] { return try await existing.value }
        let task = Task { try await Self.backfill(openMetrics, promtool: promtool) }
        directories[openMetrics] = task
        return try await task.value
    }

    private static func backfill(_ openMetrics: String, promtool: String) async throws -> String {
        let root = NSTemporaryDirectory() + "meshwatchd-backfill-" + UUID().uuidString
        removeAtExit(root)
        let input = root + "/series.om"
        let output = root + "/blocks"
        try await offPool {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            try openMetrics.write(toFile: input, atomically: false, encoding: .utf8)
        }
        let (status, log) = try await ChildProcess.run(promtool, ["tsdb", "create-blocks-from", "openmetrics", input, output],
                                                       limit: 4096)
        guard status == 0 else {
            throw PrometheusServerError(description: "promtool backfill failed (\(status)): \(log)")
        }
        try? FileManager.default.removeItem(atPath: input)
        return output
    }
}
