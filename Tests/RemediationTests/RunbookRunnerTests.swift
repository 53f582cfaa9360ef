import Foundation
import MeshFixtures
import MeshHTTP
@testable import Remediation
import Testing

@Suite("The runbook runner: step timeouts, limits, http_check and exec")
struct RunbookRunnerTests {
    let alert = AlertContext(name: "Custom", labels: ["service": "checkout"], activeAt: Date(), time: Date())

    func run(_ steps: [RunbookStep], allow: Set<String> = [], labels: [String: String]? = nil) async -> Evidence {
        var alert = alert
        if let labels { alert.labels = labels }
        return await RunbookRunner(prometheus: nil, kubernetes: nil, execAllowList: allow).run(Runbook(alert: "Custom", title: "t", steps: steps), for: alert)
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

    /// The pids of the `sleep` processes whose command line holds `marker` (not a shell that
    /// names it, nor its fork before the exec).
    static func processes(holding marker: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), let line = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  let name = FileManager.default.contents(atPath: "/proc/\(entry)/comm") else { return nil }
            return String(decoding: name, as: UTF8.self) == "sleep\n" && String(decoding: line, as: UTF8.self).contains(marker) ? pid : nil
        }
    }

    /// Kills whatever `sleep` of `marker` a test left behind.
    static func killAll(_ marker: String) {
        for pid in processes(holding: marker) { kill(pid, SIGKILL) }
    }

    /// A `sleep` of about 300 s whose argument no other process has.
    static func uniqueSleep() -> String { "300.\(UInt32.random(in: 100_000...999_999))" }

    @Test("exec: a command cancelled at any moment ends at once: before its thread starts it, while it starts, or while it runs")
    func execCancelledEarly() async throws {
        // Cancelled before the task even began: the command never starts.
        let never = Self.uniqueSleep()
        defer { Self.killAll(never) }
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }  // cancelled before the run begins, whenever the task starts
            return try await StepProcess.run("/bin/sleep", [never], limit: 10)
        }
        await #expect(throws: CancellationError.self) { _ = try await early.value }
        #expect(Self.processes(holding: never).isEmpty)
        // Cancelled before the spawn, as the thread sees it: nothing is spawned.
        let cancelled = SpawnedCommand.Cancellation()
        cancelled.cancel()
        let unstarted = SpawnedCommand.runBlocking("/bin/sleep", [never], environment: [:], timeout: nil, limit: 10, cancellation: cancelled)
        #expect((try? unstarted.get())?.neverStarted == true)
        #expect(Self.processes(holding: never).isEmpty)

        // Cancelled at every moment around the start: whichever way it went, nothing is left running.
        for delay in [0, 1, 2, 5, 10, 20] {
            let marker = Self.uniqueSleep()
            defer { Self.killAll(marker) }
            let task = Task { try await StepProcess.run("/bin/sleep", [marker], limit: 10) }
            try await Task.sleep(for: .milliseconds(delay))
            task.cancel()
            _ = try? await task.value
            #expect(Self.processes(holding: marker).isEmpty, "cancelled after \(delay) ms: \(marker) still runs")
        }

        // Cancelled while it runs: killed, reported as a shell would (128 + SIGKILL), and seen to end
        // by this thread's own waitpid, not 300 s later.
        let started = ContinuousClock.now
        let marker = Self.uniqueSleep()
        defer { Self.killAll(marker) }
        let running = Task { try await StepProcess.run("/bin/sleep", [marker], limit: 10) }
        while Self.processes(holding: marker).isEmpty && ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        let outcome = try await running.value
        #expect(outcome.0 == 128 + SIGKILL)
        #expect(Self.processes(holding: marker).isEmpty)
        #expect(ContinuousClock.now - started < .seconds(60), "\(ContinuousClock.now - started)")
    }

    @Test("a spawned command: stdout and stderr together in order, the tail kept; killed with what it started; done when it ends though a child holds its output; none of our descriptors, a process group of its own")
    func spawnedCommand() async throws {
        let merged = try await SpawnedCommand.run("/bin/sh", ["-c", "echo out; echo err >&2; echo end"], environment: [:], timeout: .seconds(60),
                                                  mergeErrors: true).get()
        #expect(String(decoding: merged.output, as: UTF8.self) == "out\nerr\nend\n")
        #expect(merged.errors.isEmpty && merged.status == 0)
        let separate = try await SpawnedCommand.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"], environment: [:], timeout: .seconds(60)).get()
        #expect(String(decoding: separate.output, as: UTF8.self) == "out\n" && String(decoding: separate.errors, as: UTF8.self) == "err\n")
        #expect(separate.status == 3)
        // 200,000 lines through a 100-byte limit: the last 100 bytes, whole.
        let tail = try await SpawnedCommand.run("/usr/bin/seq", ["1", "200000"], environment: [:], timeout: .seconds(60), limit: 100, keep: .tail).get()
        #expect(tail.output.count == 100)
        #expect(String(decoding: tail.output, as: UTF8.self).hasSuffix("199999\n200000\n"))
        let head = try await SpawnedCommand.run("/usr/bin/seq", ["1", "200000"], environment: [:], timeout: .seconds(60), limit: 10).get()
        #expect(String(decoding: head.output, as: UTF8.self) == "1\n2\n3\n4\n5\n")
        // Cancelled, the command is killed with what it started (its process group), though a
        // process it started holds its output open.
        let marker = Self.uniqueSleep()
        defer { Self.killAll(marker) }
        let cancellation = SpawnedCommand.Cancellation()
        let started = ContinuousClock.now
        let run = Task {
            await SpawnedCommand.run("/bin/sh", ["-c", "/bin/sleep \(marker) & /bin/sleep \(marker)"], environment: [:], timeout: nil,
                                     mergeErrors: true, cancellation: cancellation)
        }
        while Self.processes(holding: marker).count < 2 && ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(Self.processes(holding: marker).count == 2)
        cancellation.cancel()
        let outcome = try await run.value.get()
        #expect(outcome.status == 128 + SIGKILL)
        #expect(ContinuousClock.now - started < .seconds(60))
        var gone = false
        for _ in 0..<200 where !gone {  // the background sleep, killed too, is reaped by init
            gone = Self.processes(holding: marker).isEmpty
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone, "the command's own child survived the kill")

        // A command that ends while a process it started still holds its output: done when it
        // ends, with what it wrote, not when that process does (300 s).
        let orphan = Self.uniqueSleep()
        defer { Self.killAll(orphan) }
        let exiting = ContinuousClock.now
        let ended = try await SpawnedCommand.run("/bin/sh", ["-c", "/bin/sleep \(orphan) & echo done"], environment: [:], timeout: .seconds(240),
                                                 mergeErrors: true).get()
        #expect(String(decoding: ended.output, as: UTF8.self) == "done\n" && ended.status == 0 && !ended.timedOut)
        #expect(ContinuousClock.now - exiting < .seconds(60), "\(ContinuousClock.now - exiting)")

        // None of this process's descriptors reaches the command: only its stdin, stdout, stderr
        // (and the directory ls reads), though this one is left inheritable.
        let inheritable = open("/dev/null", O_RDONLY)
        defer { close(inheritable) }
        #expect(inheritable > 3)
        let listed = try await SpawnedCommand.run("/bin/ls", ["/proc/self/fd"], environment: [:], timeout: .seconds(60)).get()
        let descriptors = Set(String(decoding: listed.output, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) })
        #expect(descriptors.isSubset(of: [0, 1, 2, 3]) && descriptors.isSuperset(of: [0, 1, 2]), "\(descriptors)")
        // Its own process group: a kill of the group reaches nothing of the daemon's.
        let group = try await SpawnedCommand.run("/bin/sh", ["-c", "echo $$; /usr/bin/cut -d ' ' -f 5 /proc/$$/stat"], environment: [:],
                                                 timeout: .seconds(60)).get()
        let fields = String(decoding: group.output, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        #expect(fields.count == 2 && fields[0] == fields[1] && Int32(fields[0]) != getpgrp(), "\(fields)")
        // A NUL byte would cut an argument or a variable short in C: refused, nothing run.
        let nul = await SpawnedCommand.run("/usr/bin/printf", ["%s", "safe\u{0}--rest"], environment: [:], timeout: .seconds(5))
        #expect(throws: SpawnedCommand.Failure.self) { try nul.get() }
        for environment in [["A": "x\u{0}y"], ["A=B": "c"], ["": "c"]] {
            let refused = await SpawnedCommand.run("/usr/bin/true", [], environment: environment, timeout: .seconds(5))
            #expect(throws: SpawnedCommand.Failure.self, "\(environment)") { try refused.get() }
        }
        await #expect(throws: StepProcess.SpawnFailed.self) { _ = try await StepProcess.run("/usr/bin/printf", ["a\u{0}b"], limit: 10) }
        // A command that cannot be spawned is a failure that says why.
        let missing = await SpawnedCommand.run("/nonexistent/meshwatchd-command", [], environment: [:], timeout: .seconds(5))
        #expect(throws: SpawnedCommand.Failure.self) { try missing.get() }
        await #expect(throws: StepProcess.SpawnFailed.self) { _ = try await StepProcess.run("/nonexistent/meshwatchd-command", [], limit: 10) }
    }

    @Test("exec: only allow-listed commands run, output limited; a step past its timeout is killed and reported")
    func exec() async throws {
        let evidence = await run([
            RunbookStep(name: "refused", kind: .exec, command: ["/bin/echo", "hello"]),
            RunbookStep(name: "allowed", kind: .exec, limit: 2, command: ["/usr/bin/seq", "1", "4"]),
            RunbookStep(name: "hangs", kind: .exec, timeout: "1s", command: ["/bin/sleep", "300"]),
            RunbookStep(name: "pods", kind: .pods),
        ], allow: ["/usr/bin/seq", "/bin/sleep"])
        #expect(evidence.steps.map(\.status) == [.skipped, .ok, .failed, .skipped])
        #expect(evidence.steps[0].error == "/bin/echo is not on runbooks.exec_allow")
        #expect(evidence.steps[1].lines == ["/usr/bin/seq exited 0", "3", "4"])
        #expect(evidence.steps[1].truncated)
        #expect(evidence.steps[2].error == "timed out after 1.0 seconds")
        #expect(evidence.steps[3].error == "no Kubernetes API configured")
        // Killed at its timeout, not left to sleep its 300 s (generous bound: on a loaded machine
        // Foundation's process monitor has taken 37 s to see a killed command end).
        #expect(evidence.steps[2].durationMilliseconds < 120_000, "\(evidence.steps[2].durationMilliseconds) ms")
        let off = await run([RunbookStep(name: "x", kind: .exec, command: ["/bin/true"])])
        #expect(off.steps[0].error == "exec steps are off (runbooks.exec_allow is empty)")
    }

    @Test("exec never through a shell; label values fill whole arguments and never read as options; http_check's host is the configuration's")
    func hostileLabels() async throws {
        let printf = "/usr/bin/printf"
        let labels = ["service": "x; touch /tmp/meshwatchd-pwned", "flag": "--help", "path": "../../admin?x=1#frag", "host": "evil.example:1"]
        let evidence = await run([
            RunbookStep(name: "shell", kind: .exec, command: ["/bin/sh", "-c", "{{ $labels.service }}"]),
            RunbookStep(name: "whole argument", kind: .exec, command: [printf, "%s|", "{{ $labels.service }}"]),
            RunbookStep(name: "mixed argument", kind: .exec, command: [printf, "--name={{ $labels.service }}"]),
            RunbookStep(name: "option", kind: .exec, command: [printf, "%s", "{{ $labels.flag }}"]),
            RunbookStep(name: "templated program", kind: .exec, command: ["{{ $labels.service }}"]),
            RunbookStep(name: "templated host", kind: .httpCheck, url: "http://{{ $labels.host }}/x"),
        ], allow: ["/bin/sh", printf], labels: labels)
        #expect(evidence.steps.map(\.status) == [.skipped, .ok, .skipped, .skipped, .skipped, .skipped], "\(evidence.steps.map { $0.error ?? "" })")
        #expect(evidence.steps[0].error == "refused: /bin/sh runs its arguments as code")
        #expect(evidence.steps[1].lines == ["\(printf) exited 0", "x; touch /tmp/meshwatchd-pwned|"])  // one argument, as given
        #expect(evidence.steps[3].error?.contains("starts with '-'") == true)
        #expect(evidence.steps[5].error?.contains("host is fixed by the configuration") == true)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/meshwatchd-pwned"))
        try await withEchoServer { server async throws in
            let checked = await run([RunbookStep(name: "path", kind: .httpCheck, url: server.url("/echo/{{ $labels.path }}"))], labels: labels)
            // The value is one escaped path segment: no traversal, no query, no fragment.
            #expect(checked.steps[0].lines.first?.hasPrefix("GET \(server.url("/echo/%2E%2E%2F%2E%2E%2Fadmin%3Fx%3D1%23frag")) → ") == true, "\(checked.steps[0].lines)")
        }
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

    @Test("numbers and durations in evidence read as Foundation's String(format:) wrote them (C's printf through the shim now)")
    func numberFormatting() {
        let values: [Double] = [0, 1, -1, 0.5, 0.12345678, 1234.5678, 1e-9, 6.02e23, -3.25e-5, 99_999.5, 1e15, 1e16, 123_456_789.25,
                                .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1 + 0.2]
        for value in values {
            let expected = value.isNaN ? "NaN"
                : value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4g", value)
            #expect(RunbookRunner.number(value) == expected, "\(value)")
        }
        for minutes in [0.5, 1, 59.5, 119.9, 120, 1_000.25] {
            let expected = minutes < 1 ? "\(Int(minutes * 60)) seconds"
                : minutes < 120 ? String(format: "%.0f minutes", minutes) : String(format: "%.1f hours", minutes / 60)
            #expect(RunbookRunner.minutes(minutes) == expected, "\(minutes)")
        }
    }
}

