import Foundation
import Synchronization

/// A kubeconfig `exec` credential plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`, …):
/// run with a timeout and `KUBERNETES_EXEC_INFO`, its `ExecCredential` token cached until
/// its `expirationTimestamp` (a minute early), or for the process's life when it has none.
public final class ExecCredentialPlugin: Sendable {
    public let command: String
    public let arguments: [String]
    public let environment: [String: String]
    public let apiVersion: String
    public let timeout: Duration
    private let cached = Mutex<(token: String, expires: Date?)?>(nil)

    public init(command: String, arguments: [String], environment: [String: String], apiVersion: String,
                timeout: Duration = .seconds(30)) {
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.apiVersion = apiVersion
        self.timeout = timeout
    }

    /// The cached token, or a fresh one from the plugin.
    public func token(now: Date = Date()) async throws(KubernetesConfigError) -> String {
        if let entry = cached.withLock({ $0 }), entry.expires.map({ $0.addingTimeInterval(-60) > now }) ?? true {
            return entry.token
        }
        let credential = try await run()
        cached.withLock { $0 = credential }
        return credential.token
    }

    /// Forgets the cached token (after the server refused it).
    public func invalidate() { cached.withLock { $0 = nil } }

    private func run() async throws(KubernetesConfigError) -> (token: String, expires: Date?) {
        let command = command
        let arguments = arguments
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        merged["KUBERNETES_EXEC_INFO"] = #"{"apiVersion":"\#(apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let environment = merged
        let timeout = timeout
        let outcome: Result<(Int32, Data, Data), KubernetesConfigError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.execute(command, arguments, environment: environment, timeout: timeout))
            }
        }
        let (status, output, errorOutput) = try outcome.get()
        let stderr = String(decoding: errorOutput.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0 else { throw KubernetesConfigError("credential plugin \(command) exited with \(status): \(stderr)") }
        struct ExecCredential: Decodable {
            struct Status: Decodable { var token: String?; var expirationTimestamp: String? }
            var kind: String?
            var status: Status?
        }
        guard let credential = try? JSONDecoder().decode(ExecCredential.self, from: output), credential.kind == "ExecCredential" else {
            throw KubernetesConfigError("credential plugin \(command) did not print an ExecCredential")
        }
        guard let token = credential.status?.token, !token.isEmpty else {
            throw KubernetesConfigError("credential plugin \(command) returned no token (client certificates from plugins are not supported)")
        }
        let formatter = ISO8601DateFormatter()
        let expires = credential.status?.expirationTimestamp.flatMap { formatter.date(from: $0) }
        return (token, expires)
    }

    /// Runs the plugin on a Dispatch thread (never the cooperative pool), killed after `timeout`.
    private static func execute(_ command: String, _ arguments: [String], environment: [String: String],
                                timeout: Duration) -> Result<(Int32, Data, Data), KubernetesConfigError> {
        let process = Process()
        if command.contains("/") {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [command] + arguments
        }
        process.environment = environment
        let output = Pipe.closedOnExec(), errors = Pipe.closedOnExec()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        do { try process.run() } catch {
            return .failure(KubernetesConfigError("cannot run credential plugin \(command): \(error)"))
        }
        // Read while it runs, so a chatty plugin cannot fill the pipe and stall.
        let collected = Mutex((Data(), Data()))
        let readers = DispatchGroup()
        for (index, pipe) in [output, errors].enumerated() {
            DispatchQueue.global().async(group: readers) {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.withLock { if index == 0 { $0.0 = data } else { $0.1 = data } }
            }
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        if done.wait(timeout: .now() + seconds) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = done.wait(timeout: .now() + 5)
            // Bounded: a grandchild the plugin started may hold its output open.
            _ = readers.wait(timeout: .now() + 5)
            return .failure(KubernetesConfigError("credential plugin \(command) did not finish within \(timeout)"))
        }
        readers.wait()
        let (out, err) = collected.withLock { $0 }
        return .success((process.terminationStatus, out, err))
    }
}
