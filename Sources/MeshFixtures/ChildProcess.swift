import Foundation

/// A helper program started for a test or the demo, stopped with SIGTERM (then SIGKILL)
/// and never left behind. Its stderr goes to a file so a failure can show it.
///
/// Starting, reading and stopping block, so the async entry points run them on a Dispatch
/// thread: Swift's cooperative pool (two threads here) must never wait on a child.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `process` and the pipe are set in `init` and only read afterwards;
    // `Process` is safe to query and signal from any thread.
    public let name: String
    public let stderrPath: String
    private let process: Process
    private let stdout: Pipe

    /// Starts the program; blocking (fork and exec), so prefer `launch`. Unless
    /// `readsStdout`, stdout joins stderr in the log file, so a chatty child never fills a
    /// pipe nobody reads.
    public init(name: String, executable: String, arguments: [String], workingDirectory: String? = nil,
                environment: [String: String]? = nil, readsStdout: Bool = false) throws {
        self.name = name
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        if let environment { process.environment = environment }
        stdout = Pipe()
        process.standardInput = FileHandle.nullDevice
        stderrPath = NSTemporaryDirectory() + "meshwatchd-\(name)-\(UUID().uuidString).stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardError = log
        process.standardOutput = readsStdout ? stdout : log
        // A child inherits the spawning thread's signal mask, and Dispatch's worker threads
        // block every signal: without this, SIGTERM would never reach the child.
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }

    /// Starts the program off the cooperative pool.
    public static func launch(name: String, executable: String, arguments: [String],
                              workingDirectory: String? = nil, environment: [String: String]? = nil,
                              readsStdout: Bool = false) async throws -> ChildProcess {
        try await offPool {
            try ChildProcess(name: name, executable: executable, arguments: arguments,
                             workingDirectory: workingDirectory, environment: environment, readsStdout: readsStdout)
        }
    }

    /// A last resort for a child nobody stopped: SIGKILL, without waiting.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var isRunning: Bool { process.isRunning }
    public var processIdentifier: Int32 { process.processIdentifier }

    /// The first line the program writes to stdout, or nil if it closes stdout first.
    public func firstLine() async -> String? {
        await offPool { self.readLineBlocking() }
    }

    private func readLineBlocking() -> String? {
        var bytes: [UInt8] = []
        let handle = stdout.fileHandleForReading
        while true {
            guard let byte = handle.readData(ofLength: 1).first else {
                return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }

    /// What the process wrote to stderr (and stdout, unless read) so far, at most the last `limit` bytes.
    public func stderrTail(limit: Int = 4096) -> String {
        guard let data = FileManager.default.contents(atPath: stderrPath) else { return "" }
        return String(decoding: data.suffix(limit), as: UTF8.self)
    }

    /// Runs a program to completion and returns its exit status and output (stdout and
    /// stderr together, at most the last `limit` bytes); removes its log file.
    public static func run(_ executable: String, _ arguments: [String], workingDirectory: String? = nil,
                           limit: Int = 1_000_000) async throws -> (status: Int32, output: String) {
        let process = try await launch(name: URL(fileURLWithPath: executable).lastPathComponent, executable: executable,
                                       arguments: arguments, workingDirectory: workingDirectory)
        let status = await process.waitForExit()
        let output = process.stderrTail(limit: limit)
        await process.stop()
        return (status, output)
    }

    /// Waits for the program to exit by itself and returns its exit status.
    public func waitForExit() async -> Int32 {
        await offPool {
            self.process.waitUntilExit()
            return self.process.terminationStatus
        }
    }

    /// Waits at most `limit` for the program to exit by itself and returns its exit status;
    /// nil if it had not exited by then (it is killed with SIGKILL, so no test hangs on it).
    public func waitForExit(within limit: Duration) async -> Int32? {
        await offPool {
            let deadline = ContinuousClock.now.advanced(by: limit)
            while self.process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            guard !self.process.isRunning else {
                kill(self.process.processIdentifier, SIGKILL)
                self.process.waitUntilExit()
                return nil
            }
            self.process.waitUntilExit()
            return self.process.terminationStatus
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; returns once the process has exited.
    /// Runs `body` and stops the process afterwards, whether `body` returns or throws.
    public func stopping<T>(after body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    public func stop(grace: Duration = .seconds(5)) async {
        await offPool { self.stopBlocking(grace: grace) }
    }

    /// `stop` for synchronous callers that are not on the cooperative pool.
    public func stopBlocking(grace: Duration = .seconds(5)) {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now.advanced(by: grace)
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}

/// Runs blocking work on a Dispatch thread and waits for it without holding a pool thread.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// `offPool` for work that cannot fail.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// Starts a server on a free loopback port, trying another port when the one found free was
/// taken before the server bound it; runs `body` with the first that `ready` accepts (ready and
/// truly ours), and always stops it.
func withServerOnFreePort<Server: Sendable, T: Sendable>(
    _ name: String, attempts: Int = 3,
    launch: (Int) async throws -> (ChildProcess, Server),
    ready: (Server, ChildProcess) async -> Bool,
    _ body: (Server) async throws -> T
) async throws -> T {
    var lastError = ""
    for _ in 0..<attempts {
        let (process, server) = try await launch(try LoopbackPort.free())
        if await ready(server, process) {
            return try await process.stopping { try await body(server) }
        }
        lastError = process.stderrTail()
        await process.stop()
    }
    throw PrometheusServerError(description: "\(name) did not become ready: \(lastError)")
}

