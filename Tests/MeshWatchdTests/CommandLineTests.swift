import Foundation
import MeshFixtures
import Testing

/// The built `meshwatchd` binary, run as a user runs it.
@Suite("meshwatchd on the command line")
struct CommandLineTests {
    struct Run: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: String {
        // The test runner sits beside the products in .build/<configuration>/.
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("meshwatchd").path
    }

    func meshwatchd(_ arguments: [String]) async throws -> Run {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // Read both pipes before waiting, so a full pipe cannot stall the child.
            let stderrReader = DispatchQueue(label: "stderr")
            nonisolated(unsafe) var errData = Data()
            let group = DispatchGroup()
            stderrReader.async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
        }
    }

    @Test("demo starts Prometheus on generated data, prints real figures, and leaves nothing running")
    func demo() async throws {
        let run = try await meshwatchd(["demo"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("reviews.bookinfo.svc.cluster.local"))
        #expect(run.stdout.range(of: #"reviews\.bookinfo\.svc\.cluster\.local +25\.00 +12\.00 %"#, options: .regularExpression) != nil,
                "\(run.stdout)")
        #expect(run.stdout.contains("P95 > 1000 ms"))
        #expect(run.stdout.contains("istio-system/istio-gateway expires in 5d"))
        #expect(run.stderr.contains("nothing is left running"))
        let port = try #require(run.stderr.firstMatch(of: /127\.0\.0\.1:(\d+)/).map { Int($0.1)! })
        // Prometheus is gone: its port refuses connections.
        let refused = try await meshwatchd(["health", "--prometheus-url", "http://127.0.0.1:\(port)"])
        #expect(refused.status == 2)
    }

    @Test("health exits 1 with the table when a threshold is past, 2 when Prometheus is unreachable")
    func healthExitCodes() async throws {
        let scenario = MeshScenario.incident()
        try await withPrometheus(openMetrics: scenario.openMetrics()) { server async throws in
            let at = String(Int(scenario.evaluationTime.timeIntervalSince1970))
            let table = try await meshwatchd(["health", "--prometheus-url", server.url, "--at", at])
            #expect(table.status == 1)
            #expect(table.stdout.contains("5xx > 5 %"))

            let json = try await meshwatchd(["health", "--prometheus-url", server.url, "--at", "2025-06-15T15:31:40Z",
                                             "--format", "json"])
            let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect((decoded?["services"] as? [[String: Any]])?.count == 6)
            #expect(json.status == 1)  // details' mTLS and the certificate, an hour before the incident
        }
        let port = try LoopbackPort.free()
        let down = try await meshwatchd(["health", "--prometheus-url", "http://127.0.0.1:\(port)"])
        #expect(down.status == 2)
        #expect(down.stderr.contains("connection refused"))
    }

    @Test("bad arguments are refused with a clear message before anything runs")
    func validation() async throws {
        let badWindow = try await meshwatchd(["health", "--prometheus-url", "http://127.0.0.1:1", "--window", "five"])
        #expect(badWindow.status == 64)
        #expect(badWindow.stderr.contains("--window"))
        let badURL = try await meshwatchd(["health", "--prometheus-url", "prometheus:9090"])
        #expect(badURL.status != 0)
        #expect(badURL.stderr.contains("absolute http(s) URL"))
        let help = try await meshwatchd(["--help"])
        #expect(help.stdout.contains("health") && help.stdout.contains("demo"))
    }
}
