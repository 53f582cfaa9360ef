import Foundation

/// Runs one command with `posix_spawn` on a thread of its own: reads its stdout and stderr
/// with `poll`, reaps it with `waitpid` on its own pid, and kills it at the deadline. Nothing
/// here waits on Dispatch's global queue or on Foundation's process monitor, which a busy
/// process (many blocked global-queue threads) can starve for tens of seconds.
enum SpawnedCommand {
    struct Outcome: Sendable {
        var status: Int32
        var output: Data
        var errors: Data
        var timedOut: Bool
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// `executable` is a path (no search); `environment` replaces the child's.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration,
                    limit: Int = 1 << 20) async -> Result<Outcome, Failure> {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: runBlocking(executable, arguments, environment: environment, timeout: timeout, limit: limit)) }
            thread.name = "meshwatchd.spawn"
            thread.start()
        }
    }

    static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration,
                            limit: Int) -> Result<Outcome, Failure> {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        // Close-on-exec: no other child spawned meanwhile keeps these ends open.
        guard pipe(&outPipe) == 0 else { return .failure(Failure(description: "pipe: \(String(cString: strerror(errno)))")) }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return .failure(Failure(description: "pipe: \(String(cString: strerror(errno)))"))
        }
        for descriptor in outPipe + errPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        var spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        // A script just written may still be open for writing in a child another thread forked
        // (ETXTBSY until that child execs): a few retries.
        var retries = 0
        while spawned == ETXTBSY && retries < 200 {  // up to 10 s: a busy machine may take that long to exec the forked child
            usleep(50_000)
            retries += 1
            spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        }
        close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            return .failure(Failure(description: String(cString: strerror(spawned))))
        }
        let deadline = ContinuousClock.now + timeout
        var output = Data(), errors = Data()
        var open: [Int32] = [outPipe[0], errPipe[0]]
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            if ContinuousClock.now >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 100)
            if ready < 0 && errno != EINTR { break }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                } else if entry.fd == outPipe[0] {
                    if output.count < limit { output.append(contentsOf: buffer[0..<count]) }
                } else if errors.count < limit {
                    errors.append(contentsOf: buffer[0..<count])
                }
            }
        }
        for descriptor in open { close(descriptor) }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, timedOut ? 0 : WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { break }
            if reaped == 0 {
                if ContinuousClock.now >= deadline {
                    timedOut = true
                    kill(pid, SIGKILL)
                } else {
                    usleep(10_000)
                }
            }
        }
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        let exited = status & 0x7f == 0
        return .success(Outcome(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output: output, errors: errors, timedOut: timedOut))
    }
}
