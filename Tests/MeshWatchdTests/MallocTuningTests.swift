import CLoader
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
        // mallopt takes both (it answers 0 for a parameter or value it refuses).
        #expect(MallocTuning.apply(environment: [:]) == [MallocTuning.arenaMax, MallocTuning.mmapThreshold])
    }
}
