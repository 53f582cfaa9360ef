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
        let outcome = await Self.execute(command, arguments, environment: environment, timeout: timeout)
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

    /// Runs the plugin on a thread of its own (never the cooperative pool or Dispatch's global
    /// queue), killed after `timeout`. A bare name is looked up on the PATH, as kubectl does.
    private static func execute(_ command: String, _ arguments: [String], environment: [String: String],
                                timeout: Duration) async -> Result<(Int32, Data, Data), KubernetesConfigError> {
        var executable = command
        if !command.contains("/") {
            let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            guard let found = path.split(separator: ":").map({ "\($0)/\(command)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                return .failure(KubernetesConfigError("cannot run credential plugin \(command): not found on the PATH"))
            }
            executable = found
        }
        switch await SpawnedCommand.run(executable, arguments, environment: environment, timeout: timeout) {
        case .failure(let failure):
            return .failure(KubernetesConfigError("cannot run credential plugin \(command): \(failure)"))
        case .success(let outcome) where outcome.timedOut:
            return .failure(KubernetesConfigError("credential plugin \(command) did not finish within \(timeout)"))
        case .success(let outcome):
            return .success((outcome.status, outcome.output, outcome.errors))
        }
    }
}
