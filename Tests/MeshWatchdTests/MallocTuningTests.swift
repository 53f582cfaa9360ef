import CLoader
import Glibc
@testable import MeshWatchdCore
import Testing

@Suite("The allocator's settings: two arenas, a fixed mmap threshold, the operator's environment first")
struct MallocTuningTests {
    @Test("glibc's parameters, set unless the environment sets them, and accepted by mallopt")
    func settings() {
        #expect(MallocTuning.arenaMax.parameter == mw_m_arena_max())
        #expect(MallocTuning.mmapThreshold.parameter == mw_m_mmap_threshold())
        #expect(MallocTuning.settings(environment: [:]) == [MallocTuning.arenaMax, MallocTuning.mmapThreshold])
        #expect(MallocTuning.settings(environment: ["MALLOC_ARENA_MAX": "4"]) == [MallocTuning.mmapThreshold])
        #expect(MallocTuning.settings(environment: ["MALLOC_ARENA_MAX": "4", "MALLOC_MMAP_THRESHOLD_": "0"]).isEmpty)
        // mallopt takes both (it answers 0 for a parameter or value it refuses), in a child
        // process: the test runner's own allocator is left as glibc made it.
        #expect(Self.inChild { MallocTuning.apply(environment: [:]) == [MallocTuning.arenaMax, MallocTuning.mmapThreshold] } == 0)
        // And the check can fail: M_MXFAST (1) past its maximum is one of the few settings glibc refuses.
        #expect(Self.inChild { mw_mallopt(1, -1) == 1 } == 1)
    }

    /// Runs `check` in a forked child and answers its exit status: 0 when it held, 1 when not.
    /// glibc makes its allocator usable in the child of a multithreaded process; `check` runs
    /// on the forking thread, the only one the child has.
    static func inChild(_ check: () -> Bool) -> Int32 {
        let pid = fork()
        if pid == 0 { _exit(check() ? 0 : 1) }
        guard pid > 0 else { return -1 }
        var status: Int32 = 0
        // A child that hangs (a lock another thread held at the fork) is killed, not waited for forever.
        let deadline = ContinuousClock.now + .seconds(60)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline { kill(pid, SIGKILL) }
            usleep(10_000)
        }
        // WIFEXITED / WEXITSTATUS: a signal (a crash in the child) is neither 0 nor 1.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
