// The daemon's own cost against the real Prometheus: resident memory idle with the Istio
// pack, and with 1,000 rules holding about 13,000 active alerts, and CPU per cycle.
import Foundation
import MeshFixtures

/// Resident memory (all, and anonymous: the process's own, not shared library pages) and
/// CPU seconds of another process, from /proc.
func processFigures(_ pid: Int32) -> (residentMegabytes: Double, anonymousMegabytes: Double, cpuSeconds: Double) {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    func kilobytes(_ key: String) -> Double {
        status.split(separator: "\n").first { $0.hasPrefix(key) }?.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
    }
    let rssKilobytes = kilobytes("VmRSS:")
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    let cpu = fields.count > 13 ? ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks : 0
    return (rssKilobytes / 1024, kilobytes("RssAnon:") / 1024, cpu)
}

func daemonBenchmark() async throws {
    guard let binary = releaseDaemon(for: "daemon") else { return }
    let scenario = MeshScenario.live(ahead: 30)
    let work = try workDirectory("daemon")
    defer { try? FileManager.default.removeItem(atPath: work) }

    // 1,000 rules in 10 groups; each returns every destination series (13 here), so about
    // 13,000 instances, kept pending by a long `for`, every annotation templated each cycle.
    var rules = "groups:\n"
    for group in 0..<10 {
        rules += "  - name: bench-\(group)\n    interval: 10s\n    rules:\n"
        for index in 0..<100 {
            rules += """
                      - alert: Bench\(group * 100 + index)
                        expr: 'rate(istio_requests_total{reporter="destination"}[5m]) > -\(group * 100 + index)'
                        for: 1h
                        labels: {severity: warning}
                        annotations:
                          summary: '{{ $labels.destination_service }} at {{ $value | humanize }} req/s'

                """
        }
    }
    try rules.write(toFile: work + "/bench.yml", atomically: true, encoding: .utf8)

    print("Daemon: the release meshwatchd against the real Prometheus")
    try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
        func measure(_ name: String, _ arguments: [String], seconds: Int, cycles: Int) async throws {
            let state = work + "/state-\(name)"
            let process = try await ChildProcess.launch(name: "meshwatchd", executable: binary, arguments: [
                "run", "--prometheus", server.url, "--state-directory", state, "--listen", "127.0.0.1:\(try LoopbackPort.free())",
                "--log-level", "warning", "--log-format", "json",
            ] + arguments)
            try await Task.sleep(for: .seconds(seconds / 2))
            let middle = processFigures(process.processIdentifier)
            try await Task.sleep(for: .seconds(seconds - seconds / 2))
            let end = processFigures(process.processIdentifier)
            let perCycle = (end.cpuSeconds - middle.cpuSeconds) / Double(cycles)
            print(String(format: "  %@: %.1f MB resident (%.1f MB anonymous, the rest shared library pages); %.0f ms CPU per cycle",
                         name, end.residentMegabytes, end.anonymousMegabytes, perCycle * 1000))
            await process.stop()
        }
        try await measure("Istio pack (7 rules), idle", ["--pack", "istio", "--set", "interval=5s"], seconds: 20, cycles: 2)
        try await measure("1,000 rules, ~13,000 pending alerts", ["--rules", work + "/bench.yml"], seconds: 40, cycles: 2)
    }
    print("  for reference, vmalert: about 19 MB with the seven rules, about 73 MB with 1,000 rules and 14,000 alerts")
}

/// The release meshwatchd beside this benchmark, or nil (with a message) when not built.
func releaseDaemon(for benchmark: String) -> String? {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("meshwatchd").path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        print("\(benchmark) benchmark: build the release meshwatchd first (make bench does)")
        return nil
    }
    return binary
}

/// A fresh temporary directory for one benchmark.
func workDirectory(_ benchmark: String) throws -> String {
    let path = NSTemporaryDirectory() + "meshwatchd-\(benchmark)-bench-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
