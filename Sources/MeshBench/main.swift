// `make bench`: `MeshBench decode` and `MeshBench engine`, each in its own process so
// that peak memory belongs to one benchmark.
import Foundation

switch CommandLine.arguments.dropFirst().first {
case "decode": try decodeBenchmark()
case "engine": await engineBenchmark()
default:
    print("usage: MeshBench decode [--only-ours] | engine")
    exit(64)
}
