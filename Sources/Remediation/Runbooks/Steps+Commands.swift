import Foundation
import MeshHTTP
import Synchronization

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

/// Runs an allow-listed command on a thread of its own; its output (stdout and stderr) bounded.
/// Cancelling the task (the step's timeout) kills the command. Not on libdispatch's global
/// queue: its first worker thread starts a one-second timer that lasts as long as the process.
enum StepProcess {
    static func run(_ executable: String, _ arguments: [String], limit: Int) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe.closedOnExec()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let box = ProcessBox(process)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                Thread {
                    // Cancelled before the thread got here (a busy machine starts threads late):
                    // nothing is started.
                    guard box.markStarting() else { return continuation.resume(throwing: CancellationError()) }
                    do { try box.process.run() } catch {
                        continuation.resume(throwing: error)
                        return
                    }
                    box.markStarted()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    box.process.waitUntilExit()
                    box.markFinished()
                    continuation.resume(returning: (box.process.terminationStatus, String(decoding: data.suffix(limit), as: UTF8.self)))
                }.start()
            }
        } onCancel: {
            box.kill()
        }
    }
}

/// The command and whether it was cancelled, so that a cancellation at any moment kills it:
/// before it starts (it never does), while it starts (killed as soon as it has a pid), or after;
/// never once it has been reaped (its pid may be another process's by then).
final class ProcessBox: @unchecked Sendable {
    private enum State { case waiting, starting, started, finished, cancelled }

    let process: Process
    private let state = Mutex(State.waiting)

    init(_ process: Process) { self.process = process }

    /// False when cancelled already: the command must not start.
    func markStarting() -> Bool {
        state.withLock { state in
            guard state == .waiting else { return false }
            state = .starting
            return true
        }
    }

    /// The command runs; cancelled meanwhile, it is killed now.
    func markStarted() {
        let cancelled = state.withLock { state -> Bool in
            defer { if state != .cancelled { state = .started } }
            return state == .cancelled
        }
        if cancelled { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Reaped: nothing to kill any more.
    func markFinished() { state.withLock { $0 = .finished } }

    func kill() {
        let started = state.withLock { state -> Bool in
            defer { if state != .finished { state = .cancelled } }
            return state == .started
        }
        if started { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}

extension Pipe {
    /// A pipe whose descriptors no other child process inherits: a command spawned meanwhile
    /// (another step, a credential plugin) holding a copy of the write end would keep the reader
    /// from ever seeing the end of the output. Spawning gives the child its own copy for stdout.
    static func closedOnExec() -> Pipe {
        let pipe = Pipe()
        for descriptor in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] {
            _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC)
        }
        return pipe
    }
}
