// The daemon's footprint beside vmalert's, in one run: the same Prometheus 2.42 over the same
// synthetic Istio data for 100 services, the same rules, a 15 s interval, each program alone
// for a 120 s window after a warm-up. CPU from the process's CPU clock (clock_getcpuclockid), resident memory from
// /proc/PID/status, wake-ups as context switches of every thread from /proc/PID/task/*/status.
// Resident memory is read every second of the window and the goal is judged on the mean: a
// program's resident file pages come and go with the kernel's reclaim (on the machines here
// DAMON pages out whatever was not touched for a minute, and the next touch reads it back with
// the device's read-ahead), so one reading at the end can be off by 10 MB either way.
// The goals of step 15 are printed beside the figures; they are a standing gate.
import Foundation
import MeshFixtures

/// Resident memory (all, and anonymous: the process's own, not shared library pages), CPU
/// seconds and context switches (every thread: how often it woke) of another process, from /proc.
struct ProcessFigures {
    var residentMegabytes: Double
    var anonymousMegabytes: Double
    /// From the process's CPU clock (nanoseconds), else from clock ticks.
    var cpuSeconds: Double
    /// The part of the CPU time spent in the kernel (system calls, page faults), in clock ticks.
    var systemSeconds: Double
    var contextSwitches: Int

    /// `residentOnly`: memory alone (the readings taken every second), the rest left at zero.
    init(_ pid: Int32, residentOnly: Bool = false) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func kilobytes(_ key: String) -> Double {
            status.split(separator: "\n").first { $0.hasPrefix(key) }?.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
        }
        residentMegabytes = kilobytes("VmRSS:") / 1024
        anonymousMegabytes = kilobytes("RssAnon:") / 1024
        (cpuSeconds, systemSeconds, contextSwitches) = (0, 0, 0)
        if residentOnly { return }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        cpuSeconds = fields.count > 13 ? ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks : 0
        // The process's CPU clock (every thread's run time, exited ones included, in nanoseconds)
        // where the kernel gives it: utime + stime are sampled at 10 ms clock ticks, which at 7
        // rules (~10 ms per cycle) is a step of an eighth of what is measured.
        var clock = clockid_t()
        var time = timespec()
        if clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &time) == 0 {
            cpuSeconds = Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        systemSeconds = fields.count > 13 ? (Double(fields[12]) ?? 0) / ticks : 0
        var switches = 0
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
                switches += Int(line.split(separator: "\t").last ?? "") ?? 0
            }
        }
        contextSwitches = switches
    }
}

/// What one program cost over the window.
struct Footprint {
    /// The mean of the readings taken every second of the window; what the goal is judged on.
    var residentMegabytes: Double
    var anonymousMegabytes: Double
    /// The lowest and highest reading.
    var residentRange: ClosedRange<Double>
    var cpuSeconds: Double
    var systemSeconds: Double
    var wakeupsPerSecond: Double
}

/// 100 services in 10 namespaces, steady, a few of them failing or slow: error-rate and latency
/// rules find something, and the Istio pack's alerts fire as in production.
func benchScenario(minutesAhead: Double) -> MeshScenario {
    let now = Date().timeIntervalSince1970.rounded(.down)
    var services: [MeshService] = []
    for index in 0..<100 {
        let rate = Double(5 + index % 20)
        let errors: Double = index % 17 == 0 ? 0.12 : 0.002
        let p95: Double = index % 13 == 0 ? 1800 : Double(40 + index % 60)
        services.append(MeshService(workload: "svc\(index)", namespace: "ns\(index % 10)", requestsPerSecond: rate,
                                    errorRatio: errors, p95Millis: p95, mtlsShare: 1))
    }
    return MeshScenario(start: Date(timeIntervalSince1970: now - 60 * 60), end: Date(timeIntervalSince1970: now + minutesAhead * 60),
                        stepSeconds: 15, services: services)
}

/// 1,000 rules in groups of 20, half error rate and half P95 latency, each over one namespace
/// (10 services), held pending by a long `for`: about 10,000 active alerts, every annotation
/// templated each cycle.
func thousandRules() -> String {
    var rules = "groups:\n"
    for group in 0..<50 {
        rules += "  - name: bench-\(group)\n    interval: 15s\n    rules:\n"
        for index in 0..<20 {
            let number = group * 20 + index
            let namespace = "ns\(number % 10)"
            let expr = number % 2 == 0
                ? "sum by (destination_service, destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter=\"destination\", destination_workload_namespace=\"\(namespace)\", response_code=~\"5..\"}[5m])) / sum by (destination_service, destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter=\"destination\", destination_workload_namespace=\"\(namespace)\"}[5m])) > -\(number)"
                : "histogram_quantile(0.95, sum by (le, destination_service, destination_workload, destination_workload_namespace) (rate(istio_request_duration_milliseconds_bucket{reporter=\"destination\", destination_workload_namespace=\"\(namespace)\"}[5m]))) > -\(number)"
            rules += """
                      - alert: Bench\(number)
                        expr: '\(expr)'
                        for: 1h
                        labels: {severity: warning}
                        annotations:
                          summary: '{{ $labels.destination_service }} at {{ $value | humanize }}'

                """
        }
    }
    return rules
}

/// `MeshBench daemon [--window SECONDS] [--only-istio]`: the window (120 s unless given; `make
/// bench` uses that) and whether the 1,000-rule row runs. A long window shows what a daemon left
/// running settles at, after the one-off paths of its first firings (`--window 1500 --only-istio`:
/// about 52 minutes).
struct DaemonBenchmarkOptions {
    var window = 120
    var onlyIstio = false

    init() {}

    init(parsing arguments: [String]) throws {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--window":
                guard let value = rest.popFirst(), let seconds = Int(value), (10...7200).contains(seconds) else {
                    throw UsageError(description: "MeshBench daemon: --window takes a number of seconds from 10 to 7200")
                }
                window = seconds
            case "--only-istio": onlyIstio = true
            default: throw UsageError(description: "MeshBench daemon: unknown argument \(argument) (--window SECONDS, --only-istio)")
            }
        }
    }
}

/// A benchmark's arguments are wrong.
struct UsageError: Error, CustomStringConvertible {
    let description: String
}

func daemonBenchmark(_ options: DaemonBenchmarkOptions = DaemonBenchmarkOptions()) async throws {
    guard let binary = releaseDaemon(for: "daemon") else { return }
    let vmalert = "/usr/bin/vmalert"
    guard FileManager.default.isExecutableFile(atPath: vmalert) else {
        print("daemon benchmark: vmalert (Debian's victoria-metrics package) is the reference; install it (make deps does)")
        return
    }
    let warmUp = 30, window = options.window, interval = 15.0
    let work = try workDirectory("daemon")
    defer { try? FileManager.default.removeItem(atPath: work) }
    let istio = try await ChildProcess.run(binary, ["rules", "export", "--pack", "istio", "--set", "interval=15s"])
    guard istio.status == 0 else { throw PrometheusServerError(description: "rules export: \(istio.output)") }
    try istio.output.write(toFile: work + "/istio.yml", atomically: true, encoding: .utf8)
    try thousandRules().write(toFile: work + "/thousand.yml", atomically: true, encoding: .utf8)

    print("Daemon footprint beside vmalert: Prometheus 2.42, 100 services, 15 s interval, \(window) s window after \(warmUp) s, each alone; resident memory read every second, the mean compared")
    // The data runs past every run's end (each program alone, one after the other), with room to spare.
    let runs = options.onlyIstio ? 2 : 4
    let scenario = benchScenario(minutesAhead: max(40, Double(runs * (warmUp + window + 30)) / 60 + 10))
    try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
        try await withEchoServer { receiver async throws in
            func run(_ name: String, _ executable: String, _ arguments: [String]) async throws -> Footprint {
                let process = try await ChildProcess.launch(name: name, executable: executable, arguments: arguments)
                try await Task.sleep(for: .seconds(warmUp))
                let start = ProcessFigures(process.processIdentifier)
                let clock = ContinuousClock()
                let began = clock.now
                var resident: [Double] = [], anonymous: [Double] = []
                for second in 1...window {
                    try await clock.sleep(until: began + .seconds(second))
                    let now = ProcessFigures(process.processIdentifier, residentOnly: true)
                    resident.append(now.residentMegabytes)
                    anonymous.append(now.anonymousMegabytes)
                }
                let end = ProcessFigures(process.processIdentifier)
                let running = process.isRunning
                await process.stop()
                guard running else { throw PrometheusServerError(description: "\(name) exited during the benchmark: \(process.stderrTail())") }
                func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
                return Footprint(residentMegabytes: mean(resident), anonymousMegabytes: mean(anonymous),
                                 residentRange: (resident.min() ?? 0)...(resident.max() ?? 0),
                                 cpuSeconds: end.cpuSeconds - start.cpuSeconds, systemSeconds: end.systemSeconds - start.systemSeconds,
                                 wakeupsPerSecond: Double(end.contextSwitches - start.contextSwitches) / Double(window))
            }
            func vmalertRun(_ rules: String) async throws -> Footprint {
                try await run("vmalert", vmalert, [
                    "-rule=\(rules)", "-datasource.url=\(server.url)", "-notifier.url=\(receiver.url(""))",
                    "-httpListenAddr=127.0.0.1:\(try LoopbackPort.free())", "-evaluationInterval=15s", "-loggerLevel=ERROR",
                ])
            }
            func meshwatchdRun(_ rules: String, _ name: String) async throws -> Footprint {
                let config = work + "/\(name).json"
                try #"""
                    {"prometheus": {"url": "\#(server.url)"}, "rule_files": ["\#(rules)"], "packs": {"istio": {"enabled": false}},
                     "sinks": [{"name": "am", "type": "alertmanager", "url": "\#(receiver.url(""))"}]}
                    """#.write(toFile: config, atomically: true, encoding: .utf8)
                return try await run("meshwatchd", binary, [
                    "run", "--config", config, "--state-directory", work + "/state-\(name)",
                    "--listen", "127.0.0.1:\(try LoopbackPort.free())", "--log-level", "warning", "--log-format", "json",
                ])
            }
            struct Row { var name: String; var rss: Double; var cpu: Double }
            var failures: [String] = []
            let rows = [("7 rules (the Istio pack)", work + "/istio.yml", 1.0, 0.5),
                        ("1,000 rules (error rate and P95, groups of 20)", work + "/thousand.yml", 1.0, 0.3)]
            for (label, file, rssGoal, cpuGoal) in options.onlyIstio ? Array(rows.prefix(1)) : rows {
                let reference = try await vmalertRun(file)
                let ours = try await meshwatchdRun(file, file.hasSuffix("istio.yml") ? "istio" : "thousand")
                let cycles = Double(window) / interval
                let rssRatio = ours.residentMegabytes / max(reference.residentMegabytes, 0.001)
                let cpuRatio = ours.cpuSeconds / max(reference.cpuSeconds, 0.001)
                print("  \(label):")
                for (who, figures) in [("vmalert", reference), ("meshwatchd", ours)] {
                    print(String(format: "    %-10@ %6.1f MB resident (mean; %.1f to %.1f; %5.1f MB anonymous), %6.2f s CPU (%5.2f s system) in %d s (%6.1f ms per cycle), %6.1f wake-ups/s",
                                 who as NSString, figures.residentMegabytes, figures.residentRange.lowerBound, figures.residentRange.upperBound,
                                 figures.anonymousMegabytes, figures.cpuSeconds, figures.systemSeconds,
                                 window, figures.cpuSeconds / cycles * 1000, figures.wakeupsPerSecond))
                }
                let rssOK = rssRatio <= rssGoal, cpuOK = cpuRatio <= cpuGoal
                print(String(format: "    ratio: RSS %.2f× (goal ≤ %.1f×: %@), CPU %.2f× (goal ≤ %.1f×: %@)",
                             rssRatio, rssGoal, (rssOK ? "met" : "NOT MET") as NSString, cpuRatio, cpuGoal, (cpuOK ? "met" : "NOT MET") as NSString))
                if !rssOK { failures.append("\(label): RSS") }
                if !cpuOK { failures.append("\(label): CPU") }
            }
            print(failures.isEmpty ? "  footprint goals: all met" : "  footprint goals NOT met: \(failures.joined(separator: ", "))")
        }
    }
}

/// `MeshBench scenario`: the daemon benchmark's Prometheus and rule files, left running until
/// interrupted (its data ends 90 minutes after the start), to profile a daemon against them
/// (`perf`, `valgrind --tool=callgrind`).
func serveScenario() async throws {
    // Written at once (print's output to a file waits for the buffer): the URL is read while it runs.
    func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    let work = try workDirectory("scenario")
    try thousandRules().write(toFile: work + "/thousand.yml", atomically: true, encoding: .utf8)
    try await withPrometheus(openMetrics: benchScenario(minutesAhead: 90).openMetrics()) { server async throws in
        say("Prometheus with the daemon benchmark's 100 services: \(server.url)")
        say("the 1,000 rules: \(work)/thousand.yml; the 7: meshwatchd rules export --pack istio --set interval=15s")
        say("interrupt (Ctrl-C) to stop it")
        let (signals, continuation) = AsyncStream<Void>.makeStream()
        let source = DispatchSource.makeSignalSource(signal: SIGINT)
        signal(SIGINT, SIG_IGN)
        source.setEventHandler { continuation.finish() }
        source.resume()
        for await _ in signals {}
        source.cancel()
    }
    try? FileManager.default.removeItem(atPath: work)
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
