import Foundation
import MeshHTTP

// The steps that reach beyond the Kubernetes and Prometheus APIs: an HTTP check against a
// configured host, and an allow-listed command run without a shell.
extension RunbookRunner {
    // MARK: HTTP check and exec

    func httpCheck(_ url: String) async throws -> StepOutput {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw StepSkipped(reason: "no http(s) URL") }
        let start = ContinuousClock.now
        let response = try await http.get(url)
        let elapsed = ContinuousClock.now - start
        let millis = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        var output = StepOutput()
        output.status = response.isSuccess ? .ok : .failed
        output.lines = ["GET \(url) → \(response.status) in \(millis) ms"]
        if !response.isSuccess { output.error = "HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))" }
        output.data = .object(["status": .number(Double(response.status)), "milliseconds": .number(Double(millis))])
        return output
    }

    func exec(_ command: [String], limit: Int) async throws -> StepOutput {
        guard let executable = command.first else { throw StepSkipped(reason: "no command") }
        guard execAllowList.contains(executable) else {
            throw StepSkipped(reason: execAllowList.isEmpty ? "exec steps are off (runbooks.exec_allow is empty)"
                                                            : "\(executable) is not on runbooks.exec_allow")
        }
        if StepTemplate.interpreters.contains(URL(fileURLWithPath: executable).lastPathComponent.lowercased()) {
            throw StepSkipped(reason: "refused: \(executable) runs its arguments as code")
        }
        let (status, text) = try await StepProcess.run(executable, Array(command.dropFirst()), limit: 64 << 10)
        var output = StepOutput()
        let lines = text.split(separator: "\n").map(String.init)
        output.status = status == 0 ? .ok : .failed
        if status != 0 { output.error = "exit status \(status)" }
        output.truncated = lines.count > limit
        output.lines = ["\(executable) exited \(status)"] + lines.suffix(limit)
        return output
    }
}

/// Runs an allow-listed command (`SpawnedCommand`): stdout and stderr together, the last
/// `limit` bytes kept, the daemon's environment passed on. Cancelling the task (the step's
/// timeout) kills the command within a tenth of a second, at whatever moment it comes: before the
/// spawn (it never runs; `CancellationError`), right after it, or while it runs (killed, and
/// reported with status 128 + 9).
enum StepProcess {
    struct SpawnFailed: Error, CustomStringConvertible {
        let executable: String
        let reason: String
        var description: String { "cannot run \(executable): \(reason)" }
    }

    static func run(_ executable: String, _ arguments: [String], limit: Int) async throws -> (Int32, String) {
        let cancellation = SpawnedCommand.Cancellation()
        let result = await withTaskCancellationHandler {
            await SpawnedCommand.run(executable, arguments, environment: ProcessInfo.processInfo.environment, timeout: nil,
                                     limit: limit, keep: .tail, mergeErrors: true, cancellation: cancellation)
        } onCancel: {
            cancellation.cancel()
        }
        switch result {
        case .failure(let failure):
            throw SpawnFailed(executable: executable, reason: failure.description)
        case .success(let outcome) where outcome.neverStarted:
            throw CancellationError()
        case .success(let outcome):
            return (outcome.status, String(decoding: outcome.output, as: UTF8.self))
        }
    }
}
