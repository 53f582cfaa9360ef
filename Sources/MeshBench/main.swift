// `make bench`: `MeshBench decode`, `engine`, `replay` and `daemon`, each in its own process so that
// peak memory belongs to one benchmark.
import Foundation

switch CommandLine.arguments.dropFirst().first {
case "decode": try decodeBenchmark()
case "engine": await engineBenchmark()
case "replay": try await replayBenchmark()
case "daemon": try await daemonBenchmark()
default:
    print("usage: MeshBench decode [--only-ours] | engine | replay | daemon")
    exit(64)
}
