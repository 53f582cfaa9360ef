// Decode throughput of PromClient's ResponseDecoder on a 10,000-series instant-vector
// response (what a 1,000-service mesh answers), beside Foundation's JSONDecoder and
// Python's json on the same bytes, in the same run.
import Foundation
import MeshFixtures
import PromClient
import MetricModel

func decodeBenchmark() throws {
let seriesCount = 10_000
let body = SyntheticResponses.vector(series: seriesCount)
let megabytes = Double(body.count) / 1_000_000

/// The median of `runs` timings of `work`, in seconds, after one warm-up call.
func measure(runs: Int, _ work: () throws -> Void) rethrows -> Double {
    try work()
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try work()
        let elapsed = ContinuousClock.now - start
        times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    return times.sorted()[times.count / 2]
}

func pythonSeconds(runs: Int) -> Double? {
    let path = NSTemporaryDirectory() + "meshwatchd-bench-\(getpid()).json"
    _ = FileManager.default.createFile(atPath: path, contents: Data(body))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let script = """
    import json, sys, time
    data = open(sys.argv[1], 'rb').read()
    json.loads(data)
    times = []
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter(); json.loads(data); times.append(time.perf_counter() - start)
    times.sort(); print(times[len(times) // 2])
    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, path, String(runs)]
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { return nil }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Double(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

if CommandLine.arguments.contains("--only-ours") {
    // For a profiler: nothing but ResponseDecoder in the loop.
    for _ in 0..<400 { _ = try ResponseDecoder.decode(body) }
    exit(0)
}

let ours = try ResponseDecoder.decode(body)
let reference = try ReferenceDecoder.decode(body)
guard ours == reference, case .vector(let samples) = ours.result, samples.count == seriesCount else {
    print("ResponseDecoder and JSONDecoder disagree on the benchmark response")
    exit(1)
}

let oursSeconds = try measure(runs: 60) { _ = try ResponseDecoder.decode(body) }
let foundationSeconds = try measure(runs: 8) { _ = try ReferenceDecoder.decode(body) }
let pythonResult = pythonSeconds(runs: 30)

func row(_ name: String, _ seconds: Double) -> String {
    let mbps = megabytes / seconds
    let perSeries = seconds / Double(seriesCount) * 1e9
    return name.padding(toLength: 34, withPad: " ", startingAt: 0)
        + String(format: "%9.2f ms %9.1f MB/s %12.0f series/s %8.0f ns/series %8.2fx",
                 seconds * 1000, mbps, Double(seriesCount) / seconds, perSeries, seconds / oursSeconds)
}

print("Decoding a \(seriesCount)-series Prometheus vector response (\(String(format: "%.2f", megabytes)) MB), median of runs")
print("decoder".padding(toLength: 34, withPad: " ", startingAt: 0) + "      time       throughput          rate        per series   vs ours")
print(row("PromClient.ResponseDecoder", oursSeconds))
print(row("Foundation JSONDecoder", foundationSeconds))
if let pythonResult {
    print(row("Python json.loads (untyped dicts)", pythonResult))
} else {
    print("Python json.loads: python3 not available")
}
print(String(format: "ResponseDecoder is %.1fx JSONDecoder and %@ Python's json; target ≥ 200 MB/s: %@",
             foundationSeconds / oursSeconds,
             pythonResult.map { String(format: "%.1fx", $0 / oursSeconds) } ?? "n/a",
             megabytes / oursSeconds >= 200 ? "met" : "NOT met"))
}
