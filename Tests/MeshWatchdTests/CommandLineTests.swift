import Foundation
import Incidents
import MeshFixtures
import MeshHTTP
import MetricModel
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
        // MESHWATCHD_BINARY runs the black-box suites against another build (an older main, to
        // show a test fails there). Otherwise the test runner sits beside the products in .build/<configuration>/.
        if let other = ProcessInfo.processInfo.environment["MESHWATCHD_BINARY"], !other.isEmpty { return other }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("meshwatchd").path
    }

    /// `meshwatchd-demo`, built beside meshwatchd: the demo links the test fixtures, the daemon does not.
    static var demoBinary: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("meshwatchd-demo").path
    }

    func meshwatchd(_ arguments: [String], executable: String = CommandLineTests.binary, killAfter: Duration? = nil) async throws -> Run {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            if let killAfter {
                // A command that should end but does not (a daemon that starts anyway) is killed, so the test fails instead of hanging.
                nonisolated(unsafe) let running = process
                let seconds = Double(killAfter.components.seconds)
                // Only while it still runs: an exited process's pid may be someone else's by then.
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { if running.isRunning { kill(running.processIdentifier, SIGKILL) } }
            }
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

    @Test("meshwatchd-demo --mesh linkerd replays the incident in Linkerd's metrics with the Linkerd pack, its runbooks and guards")
    func linkerdDemo() async throws {
        let output = NSTemporaryDirectory() + "meshwatchd-demo-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try await meshwatchd(["--mesh", "linkerd", "--output", output], executable: Self.demoBinary)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("meshwatchd-demo: a Linkerd incident"))
        for line in ["FIRING   LinkerdHighErrorRate                bookinfo/reviews", "FIRING   LinkerdHighLatency                  bookinfo/ratings",
                     "FIRING   LinkerdLowMTLSCoverage              bookinfo/details",
                     "FIRING   LinkerdIdentityCertificateExpiring  linkerd/linkerd-identity-issuer"] {
            #expect(run.stdout.contains(line), "missing \(line):\n\(run.stdout)")
        }
        // The target from Linkerd's own labels; the pods lacking linkerd-proxy; the rollback decided through the same guards.
        #expect(run.stdout.contains("target: deployment bookinfo/reviews (deployment label)"), "\(run.stdout)")
        #expect(run.stdout.contains("pods without a linkerd-proxy sidecar: 3 pods in bookinfo without a linkerd-proxy sidecar"))
        #expect(run.stdout.contains("decision  DRY RUN: would rollout_undo bookinfo/reviews (revision 2 → 1"))
        #expect(run.stdout.contains("Certificate linkerd/linkerd-identity-issuer: expires in 5.0 days"))
        // A step name with a comma stays one name (a YAML flow mapping once split it into a stray key).
        #expect(run.stdout.contains("Linkerd policy (Server, ServerAuthorization): no Server in bookinfo"), "\(run.stdout)")
        #expect(!run.stdout.contains("Istio"), "\(run.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).count == 4)
        #expect(run.stderr.contains("nothing is left running"))
    }

    @Test("meshwatchd-demo tells the incident's story: alerts, evidence, the decisions and their guard, findings saved; nothing left running")
    func demo() async throws {
        let output = NSTemporaryDirectory() + "meshwatchd-demo-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: output) }
        let start = ContinuousClock.now
        let run = try await meshwatchd(["--output", output], executable: Self.demoBinary)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(ContinuousClock.now - start < .seconds(120))
        // Which alerts fired, for what.
        for line in ["FIRING   IstioHighErrorRate        bookinfo/reviews", "FIRING   IstioHighLatency          bookinfo/ratings",
                     "FIRING   IstioLowMTLSCoverage      bookinfo/details", "FIRING   IstioCertificateExpiring  istio-system/istio-gateway",
                     "FIRING   IstioCircuitBreakerOpen   shop/checkout", "FIRING   IstioMTLSDisabled"] {
            #expect(run.stdout.contains(line), "missing \(line):\n\(run.stdout)")
        }
        // The evidence names the bad rollout, and the decision says what and why.
        #expect(run.stdout.contains("rollout history: a new revision (2, bookinfo/reviews:1.19"))
        #expect(run.stdout.contains("decision  DRY RUN: would rollout_undo bookinfo/reviews (revision 2 → 1 (bookinfo/reviews:1.18"))
        #expect(run.stdout.contains("decision  DRY RUN: would scale bookinfo/ratings (replicas 2 → 3)"))
        #expect(run.stdout.contains("pods without an istio-proxy sidecar: 3 pods in bookinfo without an istio-proxy sidecar"))
        #expect(run.stdout.contains("nothing was written to the cluster (dry-run)"))
        // The health table at the height of the incident.
        #expect(run.stdout.range(of: #"reviews\.bookinfo\.svc\.cluster\.local +25\.00 +12\.00 %"#, options: .regularExpression) != nil)
        // Where the findings went: saved as the receiver got them.
        let files = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
        // details' plain-text share is also more than 1 % of the whole mesh: the guide's mTLSDisabled fires too.
        #expect(files.count == 6, "\(files)")
        let errorRate = try #require(files.first { $0.contains("IstioHighErrorRate-firing") })
        let finding = try Finding.decode(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/" + errorRate))))
        #expect(finding.remediation?.hasPrefix("DRY RUN: would rollout_undo bookinfo/reviews") == true)
        #expect(finding.decision?["decidedBy"] == .string("mode"))
        #expect(finding.evidence.contains { $0.contains("BackOff Pod/reviews-v2") })
        #expect(run.stdout.contains("saved under \(output)"))
        #expect(run.stderr.contains("nothing is left running"))
        // Prometheus and the double are gone: their ports refuse connections.
        for match in run.stderr.matches(of: /(Prometheus ready|Kubernetes API double) at http:\/\/127\.0\.0\.1:(\d+)/) {
            let port = Int(match.2)!
            let refused = await #expect(throws: HTTPError.self) { try await HTTPClient().get("http://127.0.0.1:\(port)/") }
            #expect(refused?.description.contains("refused") == true)
        }
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
        #expect(help.stdout.contains("health") && help.stdout.contains("meshwatchd-demo"))
    }
}
