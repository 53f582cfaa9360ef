// `make bench`: `MeshBench decode`, `engine`, `replay`, `daemon` and `webhook`, each in its own process so that
// peak memory belongs to one benchmark.
import Foundation

switch CommandLine.arguments.dropFirst().first {
case "decode": try decodeBenchmark()
case "engine": await engineBenchmark()
case "replay": try await replayBenchmark()
case "daemon":
    let options: DaemonBenchmarkOptions
    do { options = try DaemonBenchmarkOptions(parsing: Array(CommandLine.arguments.dropFirst(2))) } catch {
        print(error)
        exit(64)
    }
    try await daemonBenchmark(options)
case "webhook": try await webhookBenchmark()
case "scenario": try await serveScenario()
default:
    print("usage: MeshBench decode [--only-ours] | engine | replay | daemon [--window SECONDS] [--only-istio] | webhook | scenario")
    exit(64)
}
