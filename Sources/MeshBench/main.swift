// `make bench`: `MeshBench decode`, `engine` and `replay`, each in its own process so that
// peak memory belongs to one benchmark.
import Foundation

switch CommandLine.arguments.dropFirst().first {
case "decode": try decodeBenchmark()
case "engine": await engineBenchmark()
case "replay": try await replayBenchmark()
default:
    print("usage: MeshBench decode [--only-ours] | engine | replay")
    exit(64)
}
