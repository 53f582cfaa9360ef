import Foundation
import Logging

/// Start-up runs code the daemon never runs again: argument parsing, YAML, the packs'
/// expansion, the store's migrations, the listener's set-up, the libraries' initialisation.
/// Each page of code it touched stays mapped (the kernel maps 64 KB around every page fault),
/// so without this the resident size counts ~25 MB of code never used after the first cycle.
///
/// Once every group has had its first cycle, the read-only mappings of the executable and its
/// libraries whose pages are all clean copies of their file are dropped from the process
/// (`MADV_DONTNEED`): what the cycles use is mapped again from the page cache at their next
/// touch, a minor fault; nothing is read from disk and nothing is lost, since a clean page is
/// the file's content.
///
/// A range read from `/proc/self/smaps` must still be the same mapping when `madvise` runs:
/// the executable's are there for the process's life, and a library is first pinned
/// (`dlopen` with `RTLD_NOLOAD | RTLD_NODELETE`: never unloaded from then on) and its ranges
/// read again after that, so no `dlclose` can hand a range to live memory in between. A
/// mapping that is writable, shared, locked, or holds a single private copy (relocated data,
/// RELRO) is never touched.
enum StartupPages {
    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
        var permissions: String
        var path: String
        var residentKB = 0
        var anonymousKB = 0
        var lockedKB = 0
    }

    /// The mappings of an smaps text.
    static func mappings(smaps: String) -> [Mapping] {
        var mappings: [Mapping] = []
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.hasSuffix(":") {
                guard !mappings.isEmpty, fields.count >= 2, let value = Int(fields[1]) else { continue }
                switch first {
                case "Rss:": mappings[mappings.count - 1].residentKB = value
                case "Anonymous:": mappings[mappings.count - 1].anonymousKB = value
                case "Locked:": mappings[mappings.count - 1].lockedKB = value
                default: break
                }
                continue
            }
            let bounds = first.split(separator: "-")
            guard bounds.count == 2, fields.count >= 5, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { continue }
            let path = fields.count == 6 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            mappings.append(Mapping(start: start, end: end, permissions: String(fields[1]), path: path))
        }
        return mappings
    }

    /// The mappings that may be dropped: of a file, private, not writable, not locked, no page
    /// of their own (every resident page is the file's), something resident.
    static func releasable(_ mappings: [Mapping]) -> [Mapping] {
        mappings.filter {
            $0.path.hasPrefix("/") && $0.permissions.count == 4 && $0.permissions.hasPrefix("r") && !$0.permissions.contains("w")
                && $0.permissions.hasSuffix("p") && $0.anonymousKB == 0 && $0.lockedKB == 0 && $0.residentKB > 0 && $0.end > $0.start
        }
    }

    /// Drops the clean start-up pages of the executable and of every library that can be
    /// pinned; returns the kilobytes no longer resident (0 when `/proc` cannot be read).
    @discardableResult
    static func release(logger: Logger) -> Int {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let first = ProcFile.read("/proc/self/smaps") else { return 0 }
        var pinned: Set<String> = [executable]
        for path in Set(releasable(mappings(smaps: first)).map(\.path)) where path != executable {
            // A handle to a library already loaded, now never unloaded; nil for anything else.
            if dlopen(path, RTLD_NOLOAD | RTLD_NODELETE | RTLD_LAZY) != nil { pinned.insert(path) }
        }
        guard let smaps = ProcFile.read("/proc/self/smaps") else { return 0 }
        var released = 0
        for mapping in releasable(mappings(smaps: smaps)) where pinned.contains(mapping.path) {
            guard let address = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            if madvise(address, Int(mapping.end - mapping.start), MADV_DONTNEED) == 0 {
                released += mapping.residentKB
            } else {
                logger.debug("could not release start-up pages", metadata: ["error": "\(String(cString: strerror(errno)))", "file.path": "\(mapping.path)"])
            }
        }
        if released > 0 {
            logger.info("start-up pages released", metadata: ["process.released_kb": .stringConvertible(released)])
        }
        return released
    }
}
