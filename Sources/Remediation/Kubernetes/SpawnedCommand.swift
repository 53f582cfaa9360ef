import CSpawn
import Foundation
import Synchronization

/// Runs one command with `posix_spawn` on a thread of its own: in a process group of its own,
/// with stdin from /dev/null and no descriptor of the daemon's but its output pipes; reads its
/// output with `poll`, reaps it with `waitpid` on its own pid, and kills it (its group: what it
/// started too) at the deadline or when cancelled. A command that ends while a process it
/// started still holds its output is done: what it wrote is read, the rest is not waited for. Nothing
/// here waits on Dispatch's global queue or on Foundation's process monitor, which a busy process
/// (many blocked global-queue threads) can starve for tens of seconds: a killed command was seen
/// to end 26 to 37 s late under load.
enum SpawnedCommand {
    struct Outcome: Sendable {
        /// The exit status; 128 + the signal's number when a signal ended it (as a shell reports it).
        var status: Int32
        var output: Data
        /// Empty when `mergeErrors`: stderr went to `output`.
        var errors: Data
        var timedOut: Bool
        /// Cancelled before it was spawned: it never ran (`status` means nothing).
        var neverStarted = false
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// How the output is kept once past the limit: its start (a credential plugin's JSON) or its
    /// end (a diagnostic command's last lines, which say how it ended).
    enum Keep: Sendable { case head, tail }

    /// A cancellation a command's thread sees within its poll interval (0.1 s): before the spawn
    /// (nothing is spawned), right after it (killed at once), or while it runs (killed). The thread
    /// reaps the command itself, so a kill never reaches a pid that has been reused.
    final class Cancellation: Sendable {
        private let flag = Atomic<Bool>(false)
        init() {}
        func cancel() { flag.store(true, ordering: .releasing) }
        var isCancelled: Bool { flag.load(ordering: .acquiring) }
    }

    /// `executable` is a path (no search); `environment` replaces the child's; `timeout` nil: no
    /// deadline (a cancellation ends it).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration?,
                    limit: Int = 1 << 20, keep: Keep = .head, mergeErrors: Bool = false,
                    cancellation: Cancellation? = nil) async -> Result<Outcome, Failure> {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: runBlocking(executable, arguments, environment: environment, timeout: timeout, limit: limit,
                                                           keep: keep, mergeErrors: mergeErrors, cancellation: cancellation))
            }
            thread.name = "meshwatchd.spawn"
            thread.start()
        }
    }

    /// How long output is still read once the command has ended: what it wrote last, if a
    /// process it started keeps the pipe open (that process's own output is not waited for).
    static let drainAfterExit: Duration = .milliseconds(250)

    static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration?,
                            limit: Int, keep: Keep = .head, mergeErrors: Bool = false,
                            cancellation: Cancellation? = nil) -> Result<Outcome, Failure> {
        // Cancelled before this thread ran (a busy machine starts threads late): nothing is spawned.
        if cancellation?.isCancelled == true {
            return .success(Outcome(status: 0, output: Data(), errors: Data(), timedOut: false, neverStarted: true))
        }
        // A C string ends at its first NUL: an argument or variable holding one (a label value can)
        // would reach the command cut short, another argument than the one given. Refused.
        if let index = arguments.firstIndex(where: { $0.utf8.contains(0) }) {
            return .failure(Failure(description: "argument \(index + 1) holds a NUL byte"))
        }
        if executable.utf8.contains(0) { return .failure(Failure(description: "the command's path holds a NUL byte")) }
        if let name = environment.first(where: { $0.key.utf8.contains(0) || $0.value.utf8.contains(0) || $0.key.contains("=") || $0.key.isEmpty })?.key {
            return .failure(Failure(description: "environment variable \(name.debugDescription) has an empty name, a '=' in its name or a NUL byte"))
        }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        // Close-on-exec from the start: no child another thread spawns meanwhile holds these ends.
        guard mw_pipe_cloexec(&outPipe) == 0 else { return .failure(Failure(description: "pipe: \(String(cString: strerror(errno)))")) }
        if !mergeErrors {
            guard mw_pipe_cloexec(&errPipe) == 0 else {
                close(outPipe[0]); close(outPipe[1])
                return .failure(Failure(description: "pipe: \(String(cString: strerror(errno)))"))
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, mergeErrors ? outPipe[1] : errPipe[1], 2)
        // Nothing else of the daemon's: its listening socket and connections (NIO opens them
        // inheritable) would otherwise outlive it in whatever the command leaves running.
        _ = mw_spawn_file_actions_closefrom(&actions, 3)
        // A process group of its own: a kill reaches what the command started too.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        var spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        // A script just written may still be open for writing in a child another thread forked
        // (ETXTBSY until that child execs): a few retries.
        var retries = 0
        while spawned == ETXTBSY && retries < 200 && cancellation?.isCancelled != true {  // up to 10 s: a busy machine may take that long to exec the forked child
            usleep(50_000)
            retries += 1
            spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        close(outPipe[1])
        if !mergeErrors { close(errPipe[1]) }
        guard spawned == 0 else {
            close(outPipe[0])
            if !mergeErrors { close(errPipe[0]) }
            if spawned == ETXTBSY && cancellation?.isCancelled == true {
                return .success(Outcome(status: 0, output: Data(), errors: Data(), timedOut: false, neverStarted: true))
            }
            return .failure(Failure(description: String(cString: strerror(spawned))))
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var output = Data(), errors = Data()
        func append(_ bytes: ArraySlice<UInt8>, to data: inout Data) {
            switch keep {
            case .head:
                if data.count < limit { data.append(contentsOf: bytes.prefix(limit - data.count)) }
            case .tail:
                data.append(contentsOf: bytes)
                // Trimmed now and then, not at every read: twice the limit at most.
                if data.count > 2 * limit { data = Data(data.suffix(limit)) }
            }
        }
        // Killed with its process group, while it is unreaped (its pid, and so the group's id,
        // cannot be another's yet).
        func killGroup() {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        var open: [Int32] = mergeErrors ? [outPipe[0]] : [outPipe[0], errPipe[0]]
        var timedOut = false, killed = false
        var status: Int32 = 0
        var reaped = false
        var drainUntil: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            if !reaped {
                if let deadline, ContinuousClock.now >= deadline { timedOut = true }
                // Killed, the command's pipes may still be held open by a process it started:
                // stop reading rather than wait for them.
                if timedOut || cancellation?.isCancelled == true {
                    killGroup()
                    killed = true
                    break
                }
            } else if let drainUntil, ContinuousClock.now >= drainUntil || cancellation?.isCancelled == true {
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 100)
            if ready < 0 && errno != EINTR { break }
            for entry in fds where entry.revents != 0 {
                var count = 0
                repeat { count = read(entry.fd, &buffer, buffer.count) } while count < 0 && errno == EINTR
                if count <= 0 {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                } else if entry.fd == outPipe[0] {
                    append(buffer[0..<count], to: &output)
                } else {
                    append(buffer[0..<count], to: &errors)
                }
            }
            // Ended while something it started holds its output: what is in the pipe now is read,
            // then no more.
            if !reaped && !open.isEmpty {
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid {
                    reaped = true
                    drainUntil = ContinuousClock.now + drainAfterExit
                } else if result < 0 && errno != EINTR {
                    for descriptor in open { close(descriptor) }
                    return .failure(Failure(description: "waitpid: \(String(cString: strerror(errno)))"))
                }
            }
        }
        for descriptor in open { close(descriptor) }
        while !reaped {
            let result = waitpid(pid, &status, killed ? 0 : WNOHANG)
            if result == pid {
                reaped = true
            } else if result < 0 && errno != EINTR {
                return .failure(Failure(description: "waitpid: \(String(cString: strerror(errno)))"))
            } else if result == 0 {
                // Its output closed, the command has not ended yet: wait for it, within the deadline
                // and until a cancellation.
                if let deadline, ContinuousClock.now >= deadline { timedOut = true }
                if timedOut || cancellation?.isCancelled == true {
                    killGroup()
                    killed = true
                } else {
                    usleep(10_000)
                }
            }
        }
        if keep == .tail {
            output = Data(output.suffix(limit))
            errors = Data(errors.suffix(limit))
        }
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        let exited = status & 0x7f == 0
        return .success(Outcome(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output, errors: errors, timedOut: timedOut))
    }
}
