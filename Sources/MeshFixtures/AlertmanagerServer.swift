import Foundation
import MeshHTTP

/// A real Alertmanager (Debian's `prometheus-alertmanager`) on 127.0.0.1, clustering off,
/// routing every alert to one webhook receiver, by default without waiting (`group_wait` 0s,
/// `group_interval` 1s), so firing and resolved notifications reach the receiver at once.
public struct AlertmanagerServer: Sendable {
    public let url: String
    public let port: Int
}

/// Starts Alertmanager on a free loopback port with `receiverURL` as its only receiver, waits
/// until it is ready, runs `body`, and stops it and removes its files whatever `body` does.
public func withAlertmanager<T: Sendable>(
    receiverURL: String,
    groupWait: String = "0s",
    alertmanager: String = "/usr/bin/prometheus-alertmanager",
    _ body: (AlertmanagerServer) async throws -> T
) async throws -> T {
    let root = NSTemporaryDirectory() + "meshwatchd-alertmanager-" + UUID().uuidString
    try await offPool {
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        try """
            route:
              receiver: hook
              group_by: [alertname, destination_workload]
              group_wait: \(groupWait)
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: hook
                webhook_configs:
                  - url: "\(receiverURL)"
                    send_resolved: true
            """.write(toFile: root + "/alertmanager.yml", atomically: true, encoding: .utf8)
    }
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try await withServerOnFreePort("Alertmanager", launch: { port in
        let process = try await ChildProcess.launch(name: "alertmanager", executable: alertmanager, arguments: [
            "--config.file=\(root)/alertmanager.yml",
            "--storage.path=\(root)/data",
            "--web.listen-address=127.0.0.1:\(port)",
            // No gossip: an empty address turns clustering off, so nothing listens beyond loopback.
            "--cluster.listen-address=",
            "--log.level=warn",
        ], workingDirectory: root)
        return (process, AlertmanagerServer(url: "http://127.0.0.1:\(port)", port: port))
    }, ready: { server, process in
        let http = HTTPClient(configuration: .init(connectTimeout: .milliseconds(500), timeout: .seconds(1)))
        defer { http.shutdown() }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            if (try? await http.get(server.url + "/-/ready").isSuccess) ?? false {
                // Ours, not another test's on the same port: its configuration names our receiver.
                let status = try? await http.get(server.url + "/api/v2/status")
                return status.map { String(decoding: $0.body, as: UTF8.self).contains(receiverURL) } ?? false
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }, body)
}
