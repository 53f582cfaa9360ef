import CLoader

/// glibc's allocator, set for a long-running daemon on few cores: at most two arenas (glibc's
/// default is eight per core, and each thread that allocates under contention gets one of its
/// own, which then keeps its freed memory), and a fixed 128 KiB threshold above which blocks are
/// mapped on their own and returned when freed (by default the threshold rises with every large
/// block freed, up to 32 MiB, so a large query answer's buffer stays in the heap after it).
/// Measured with 1,000 rules (`MeshBench scenario`, 120 s): 23.4 → 22.0 MB anonymous, CPU within
/// noise. An operator's `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` wins: glibc reads them
/// at start-up, and neither is set here when it is in the environment.
package enum MallocTuning {
    package struct Setting: Equatable {
        package let parameter: Int32
        package let value: Int32
        package let environment: String
    }

    package static let arenaMax = Setting(parameter: -8, value: 2, environment: "MALLOC_ARENA_MAX")            // M_ARENA_MAX
    package static let mmapThreshold = Setting(parameter: -3, value: 128 * 1024, environment: "MALLOC_MMAP_THRESHOLD_") // M_MMAP_THRESHOLD

    /// The settings to make, given the environment.
    package static func settings(environment: [String: String]) -> [Setting] {
        [arenaMax, mmapThreshold].filter { environment[$0.environment] == nil }
    }

    /// Applies them; call first thing, before threads allocate. Returns what was set.
    @discardableResult
    package static func apply(environment: [String: String]) -> [Setting] {
        settings(environment: environment).filter { mw_mallopt($0.parameter, $0.value) == 1 }
    }
}
