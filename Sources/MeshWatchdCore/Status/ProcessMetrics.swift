import Foundation

/// The standard `process_*` metrics, read from `/proc/self` as client_golang's process
/// collector reads them: CPU seconds, resident and virtual memory, open and maximum file
/// descriptors, and the start time.
struct ProcessMetrics: Sendable, Equatable {
    var cpuSeconds: Double
    var residentBytes: Double
    var virtualBytes: Double
    var openFDs: Double
    var maxFDs: Double
    var startTime: Double

    /// Nil where there is no `/proc` (the metrics are left out, never invented).
    static func read() -> ProcessMetrics? {
        guard let stat = ProcFile.read("/proc/self/stat") else { return nil }
        // The command name may hold spaces and parentheses: the fields start after the last ")".
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
        func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard ticks > 0 else { return nil }
        var bootTime = 0.0
        if let proc = ProcFile.read("/proc/stat"),
           let line = proc.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }) {
            bootTime = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var maxFDs = 0.0
        if let limits = ProcFile.read("/proc/self/limits"),
           let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) {
            let words = line.dropFirst("Max open files".count).split(separator: " ")
            maxFDs = words.first.flatMap { Double($0) } ?? 0
        }
        return ProcessMetrics(cpuSeconds: (field(14) + field(15)) / ticks, residentBytes: field(24) * pageSize, virtualBytes: field(23),
                              openFDs: Double(max(open - 1, 0)),  // less the descriptor that read the directory
                              maxFDs: maxFDs, startTime: bootTime + field(22) / ticks)
    }

    /// The exposition, with client_golang's names and help texts.
    var exposition: String {
        var out = ""
        for (name, type, help, value) in [
            ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds),
            ("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFDs),
            ("process_open_fds", "gauge", "Number of open file descriptors.", openFDs),
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes),
            ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTime),
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualBytes),
        ] {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(StatusRendering.number(value))\n"
        }
        return out
    }
}
