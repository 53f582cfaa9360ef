import Foundation
import MeshFixtures
import Testing

@Suite("Logging to journald")
struct JournalTests {
    @Test("with stdout on the journal, entries reach journald with metadata as MESHWATCHD_ fields")
    func journaldFields() async throws {
        guard let script = Bundle.module.path(forResource: "journal_capture", ofType: "py", inDirectory: "Resources") else {
            Issue.record("journal_capture.py is missing from the test bundle")
            return
        }
        let state = NSTemporaryDirectory() + "meshwatchd-journal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: state) }
        let port = try LoopbackPort.free()
        let (status, output) = try await ChildProcess.run("/usr/bin/unshare", [
            // Stopped once the first failed evaluation is logged: a busy machine may take many
            // seconds to start a debug build and reach its first cycle.
            "-m", "/usr/bin/python3", script, "120", "--until", "rule evaluation failed", CommandLineTests.binary, "run", "--prometheus", "http://127.0.0.1:\(port)",
            "--pack", "istio", "--set", "interval=1s", "--state-directory", state, "--listen", "127.0.0.1:0",
        ], limit: 2_000_000)
        #expect(status == 0, "\(output.suffix(2000))")
        let entries = output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }
        let starting = entries.first { $0["MESSAGE"] == "starting" }
        #expect(starting?["SYSLOG_IDENTIFIER"] == "meshwatchd", "\(output.suffix(2000))")
        #expect(starting?["PRIORITY"] == "6")
        #expect(starting?["MESHWATCHD_STATE_PATH"] == state + "/state.sqlite")
        // journald's own source fields: the file, line and function that logged it.
        #expect(starting?["CODE_FILE"]?.hasSuffix("RunCommand.swift") == true, "\(starting ?? [:])")
        #expect(Int(starting?["CODE_LINE"] ?? "") ?? 0 > 0 && starting?["CODE_FUNC"]?.isEmpty == false)
        #expect(starting?.keys.contains { $0.hasPrefix("MESHWATCH_") } == false)
        let failure = entries.first { $0["MESSAGE"] == "rule evaluation failed" }
        #expect(failure?["PRIORITY"] == "4")
        #expect(failure?["MESHWATCHD_RULE_GROUP"] == "meshwatchd-istio")
        #expect(failure?["MESHWATCHD_RULE_NAME"]?.hasPrefix("Istio") == true)
        #expect(failure?["MESHWATCHD_ERROR"]?.contains("connection refused") == true)
        #expect(entries.last?["CAPTURE_EXIT"] == "0")  // SIGTERM: a clean exit
    }

    @Test("--log-format journald without a journal socket: every line goes to stderr as JSON, none is lost")
    func journaldWithoutSocket() async throws {
        let state = NSTemporaryDirectory() + "meshwatchd-nojournal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: state) }
        // A private mount namespace hides any journald socket this machine may have. The daemon is
        // stopped (SIGTERM) once it has logged a failed evaluation, or after 120 s: a busy machine
        // may take many seconds to start a debug build and reach its first cycle.
        let script = #"""
            [ -d /run/systemd/journal ] && mount -t tmpfs tmpfs /run/systemd/journal
            log=$(mktemp); "$@" > "$log" 2>&1 & pid=$!
            i=0; while [ $i -lt 1200 ] && ! grep -q 'rule evaluation failed' "$log"; do sleep 0.1; i=$((i+1)); done
            kill -TERM $pid; wait $pid; status=$?; cat "$log"; rm -f "$log"; exit $status
            """#
        let (status, output) = try await ChildProcess.run("/usr/bin/unshare", [
            "-m", "/bin/sh", "-c", script, "sh", CommandLineTests.binary, "run", "--log-format", "journald",
            "--prometheus", "http://127.0.0.1:\(try LoopbackPort.free())", "--pack", "istio", "--set", "interval=1s",
            "--state-directory", state, "--listen", "127.0.0.1:0",
        ])
        let lines = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(lines.contains { $0["msg"] == "starting" }, "\(output.suffix(2000))")
        #expect(lines.contains { $0["msg"] == "rule evaluation failed" && $0["rule.group"] == "meshwatchd-istio" }, "\(output.suffix(2000))")
        #expect(status == 0, "\(output.suffix(2000))")
    }
}
