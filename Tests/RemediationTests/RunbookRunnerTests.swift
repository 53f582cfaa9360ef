import Foundation
import MeshFixtures
import MeshHTTP
@testable import Remediation
import Testing

@Suite("The runbook runner: step timeouts, limits, http_check and exec")
struct RunbookRunnerTests {
    let alert = AlertContext(name: "Custom", labels: ["service": "checkout"], activeAt: Date(), time: Date())

    func run(_ steps: [RunbookStep], allow: Set<String> = []) async -> Evidence {
        await RunbookRunner(prometheus: nil, kubernetes: nil, execAllowList: allow).run(Runbook(alert: "Custom", title: "t", steps: steps), for: alert)
    }

    @Test("http_check: the status and time of a GET, templated; a 503 fails the step, not the runbook")
    func httpCheck() async throws {
        try await withEchoServer { server async throws in
            let evidence = await run([
                RunbookStep(name: "ok", kind: .httpCheck, url: server.url("/echo?svc={{ $labels.service }}")),
                RunbookStep(name: "down", kind: .httpCheck, url: server.url("/status/503")),
                RunbookStep(name: "after", kind: .httpCheck, url: server.url("/echo")),
            ])
            #expect(evidence.steps.map(\.status) == [.ok, .failed, .ok])
            #expect(evidence.steps[0].lines.first?.hasPrefix("GET \(server.url("/echo?svc=checkout")) → 200 in ") == true)
            #expect(evidence.steps[1].error?.hasPrefix("HTTP 503") == true)
            #expect(evidence.targetProblem == "no Kubernetes API configured")
        }
    }

    @Test("exec: only allow-listed commands run, output limited; a step past its timeout is killed and reported")
    func exec() async throws {
        let evidence = await run([
            RunbookStep(name: "refused", kind: .exec, command: ["/bin/echo", "hello"]),
            RunbookStep(name: "allowed", kind: .exec, limit: 2, command: ["/bin/sh", "-c", "for i in 1 2 3 4; do echo line $i; done"]),
            RunbookStep(name: "hangs", kind: .exec, timeout: "1s", command: ["/bin/sleep", "30"]),
            RunbookStep(name: "pods", kind: .pods),
        ], allow: ["/bin/sh", "/bin/sleep"])
        #expect(evidence.steps.map(\.status) == [.skipped, .ok, .failed, .skipped])
        #expect(evidence.steps[0].error == "/bin/echo is not on runbooks.exec_allow")
        #expect(evidence.steps[1].lines == ["/bin/sh exited 0", "line 3", "line 4"])
        #expect(evidence.steps[1].truncated)
        #expect(evidence.steps[2].error == "timed out after 1.0 seconds")
        #expect(evidence.steps[3].error == "no Kubernetes API configured")
        // Killed at its timeout, not left to sleep its 30 s (generous bound: a loaded machine is slow to reap).
        #expect(evidence.steps[2].durationMilliseconds < 25_000, "\(evidence.steps[2].durationMilliseconds) ms")
        let off = await run([RunbookStep(name: "x", kind: .exec, command: ["/bin/sh", "-c", "true"])])
        #expect(off.steps[0].error == "exec steps are off (runbooks.exec_allow is empty)")
    }

    @Test("an exec credential plugin's token is fetched again once it is within a minute of expiry")
    func execExpiry() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plugin = directory + "/plugin"
        try """
            #!/bin/sh
            echo run >> "\(directory)/runs"
            printf '{"kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"%s"}}' "$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)"
            """.write(toFile: plugin, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: plugin)
        let credentials = ExecCredentialPlugin(command: plugin, arguments: [], environment: [:], apiVersion: "client.authentication.k8s.io/v1")
        for _ in 0..<3 { #expect(try await credentials.token() == "t") }
        #expect(try String(contentsOfFile: directory + "/runs", encoding: .utf8).split(separator: "\n").count == 3)
    }
}
