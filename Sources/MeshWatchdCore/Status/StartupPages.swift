import CLoader
import Foundation
import Logging

/// Start-up runs code the daemon never runs again: argument parsing, YAML, the packs'
/// expansion, the store's migrations, the listener's set-up, the libraries' initialisation.
/// Each page of code it touched stays mapped (the kernel maps 64 KB around every page fault),
/// so without this the resident size counts ~25 MB of code never used after the first cycle.
///
/// Once every group has had its first cycle, the pages of the loaded objects' read-only
/// segments (the executable's and its libraries': code, constants, symbol tables) are dropped
/// from the process with `MADV_DONTNEED`, where every page is still the file's: what the
/// cycles use is mapped again at their next touch from the page cache, a minor fault while the
/// file stays cached. Nothing is lost, since a clean page is the file's content; the kernel's
/// own reclaim drops such pages whenever it needs memory. A path run once later (the first alert
/// that fires, its runbook) leaves its pages mapped the same way: they are released again when
/// the resident file pages grow more than a megabyte past the settled working set (`Regrowth`).
///
/// What is never touched:
/// - a page holding any byte of a segment the object may write (`PF_W`), of its RELRO part
///   (relocated, then read-only) or of a part the loader zero-filled;
/// - a mapping that holds any page of its own, resident (`Anonymous:`) or swapped out
///   (`Swap:`) — a debugger's breakpoint, a uprobe, relocated data — or that is locked, shared,
///   or whose smaps entry lacks any of those fields (unknown is not clean);
/// - anything the loader did not map: the ranges come from `dl_iterate_phdr`, and each is
///   checked again against the loaded objects' segments inside its callback, where `madvise`
///   runs, while the loader's lock keeps any `dlclose` from unmapping an object and handing its
///   range to live memory.
/// A page a debugger writes between the smaps read and the `madvise` (milliseconds) would be
/// lost; nothing in the daemon writes its own code.
///
/// Constants are read back a page at a time: the read-only data segments get `MADV_RANDOM`, and
/// the executable's are dropped from the page cache where no process maps them
/// (`POSIX_FADV_DONTNEED`, its own file only). Otherwise a constant read after the release
/// brings back the large block the page cache holds it in (a freshly installed or linked file
/// is cached in blocks of up to 128 KB, and the kernel maps a whole cached block at a fault),
/// and the kernel's read-around reads 128 KB around each one it must read. Code is left to the
/// kernel's read-around (it ignores the advice for code): the release link puts the code a
/// cycle runs together instead (`hot-functions.order`).
enum StartupPages {
    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
        var permissions: String
        var path: String
        var residentKB: Int?
        var anonymousKB: Int?
        var swapKB: Int?
        var lockedKB: Int?
    }

    /// The mappings of an smaps text. A line that cannot be read ends the mapping before it:
    /// the fields after it are not counted to it (they belong to one that could not be read).
    ///
    /// Read a byte at a time: a process's smaps runs to thousands of lines (about 20 per mapping),
    /// read again at each release (`Regrowth`), and splitting every line into substrings took
    /// most of a release's 30 ms. Lines end at a newline byte and fields at a space byte (a
    /// carriage return or a combining mark next to one changes nothing), as the kernel writes
    /// them; only the fields of a mapping's first line are made strings.
    static func mappings(smaps: String) -> [Mapping] {
        var mappings: [Mapping] = []
        var current: Int?
        var text = smaps
        text.withUTF8 { bytes in
            let space = UInt8(ascii: " "), newline = UInt8(ascii: "\n")
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count && bytes[lineEnd] != newline { lineEnd += 1 }
                defer { lineStart = lineEnd + 1 }
                // The first field, past leading spaces.
                var first = lineStart
                while first < lineEnd && bytes[first] == space { first += 1 }
                guard first < lineEnd else { continue }
                var firstEnd = first
                var dash = false
                while firstEnd < lineEnd && bytes[firstEnd] != space {
                    if bytes[firstEnd] == UInt8(ascii: "-") { dash = true }
                    firstEnd += 1
                }
                if bytes[firstEnd - 1] == UInt8(ascii: ":") && !dash {
                    // `Key: value kB`: the four keys looked at; the rest skipped without a copy.
                    guard let index = current else { continue }
                    let key = UnsafeBufferPointer(rebasing: bytes[first..<firstEnd])
                    let field: WritableKeyPath<Mapping, Int?>
                    if key.elementsEqual("Rss:".utf8) { field = \.residentKB }
                    else if key.elementsEqual("Anonymous:".utf8) { field = \.anonymousKB }
                    else if key.elementsEqual("Swap:".utf8) { field = \.swapKB }
                    else if key.elementsEqual("Locked:".utf8) { field = \.lockedKB }
                    else { continue }
                    var value = firstEnd
                    while value < lineEnd && bytes[value] == space { value += 1 }
                    var valueEnd = value
                    while valueEnd < lineEnd && bytes[valueEnd] != space { valueEnd += 1 }
                    guard value < valueEnd else { continue }
                    mappings[index][keyPath: field] = Int(String(decoding: UnsafeBufferPointer(rebasing: bytes[value..<valueEnd]), as: UTF8.self))
                    continue
                }
                // `start-end perms offset device inode [path]`: five fields, then the path.
                current = nil
                func text(_ from: Int, _ to: Int) -> String {
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self)
                }
                var fields = [text(first, firstEnd)]
                var cursor = firstEnd
                while fields.count < 5 {
                    while cursor < lineEnd && bytes[cursor] == space { cursor += 1 }
                    guard cursor < lineEnd else { break }
                    let start = cursor
                    while cursor < lineEnd && bytes[cursor] != space { cursor += 1 }
                    fields.append(text(start, cursor))
                }
                let bounds = fields[0].split(separator: "-")
                guard bounds.count == 2, fields.count == 5, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                      start < end else { continue }
                let path = cursor < lineEnd ? text(cursor, lineEnd).trimmingCharacters(in: .whitespaces) : ""
                mappings.append(Mapping(start: start, end: end, permissions: fields[1], path: path))
                current = mappings.count - 1
            }
        }
        return mappings
    }

    /// The mappings whose resident pages are all the file's: of a file, private, not
    /// writable, not locked, nothing anonymous or swapped, something resident; every one of
    /// those fields present.
    static func clean(_ mappings: [Mapping]) -> [Mapping] {
        mappings.filter {
            $0.path.hasPrefix("/") && $0.permissions.count == 4 && $0.permissions.hasPrefix("r") && !$0.permissions.contains("w")
                && $0.permissions.hasSuffix("p") && $0.anonymousKB == 0 && $0.swapKB == 0 && $0.lockedKB == 0
                && ($0.residentKB ?? 0) > 0
        }
    }

    /// The parts of `segments` (one object's read-only ranges the loader mapped) that lie in
    /// clean mappings, whole pages only. A segment's first and last pages are its own unless a
    /// byte of another segment of the object (`others`: RELRO, writable, zero-filled, or another
    /// of `segments`) lies in them: such a page is kept. (Rounded inward before, the last page of
    /// each segment of every library stayed resident: a few hundred kilobytes in all.)
    static func releasable(segments: [Range<UInt>], others: [Range<UInt>] = [], clean: [Mapping], pageSize: UInt) -> [Range<UInt>] {
        var ranges: [Range<UInt>] = []
        for (index, segment) in segments.enumerated() where !segment.isEmpty {
            let neighbours = others + segments.enumerated().filter { $0.offset != index }.map(\.element)
            func shared(_ page: UInt) -> Bool { neighbours.contains { $0.overlaps(page..<(page + pageSize)) } }
            let first = segment.lowerBound / pageSize * pageSize
            let last = (segment.upperBound - 1) / pageSize * pageSize
            let start = shared(first) ? first + pageSize : first
            let end = shared(last) ? last : last + pageSize
            guard start < end else { continue }
            for mapping in clean where mapping.start < end && start < mapping.end {
                ranges.append(max(start, mapping.start)..<min(end, mapping.end))
            }
        }
        return ranges
    }

    /// What the callback of `dl_iterate_phdr` collects: each object's segments.
    private final class Walk {
        var objects: [[mw_segment]] = []
    }

    /// The loaded objects' segments (`mw_each_loaded_object`). Reading them reads each object's
    /// program headers, in its first page: so they are read before smaps is, or a first page
    /// given back by the last release would be brought back by this read, found not resident in
    /// smaps (and so not clean), and kept (~1.1 MB of the libraries' first pages came back that
    /// way at each release after the first).
    static func loadedSegments() -> [[mw_segment]] {
        let walk = Walk()
        let context = Unmanaged.passRetained(walk)
        defer { context.release() }
        mw_each_loaded_object({ segments, count, context in
            guard let segments, let context else { return }
            Unmanaged<Walk>.fromOpaque(context).takeUnretainedValue().objects.append(Array(UnsafeBufferPointer(start: segments, count: count)))
        }, context.toOpaque())
        return walk.objects
    }

    /// The whole pages of the loaded objects' read-only segments (`objects`, from
    /// `loadedSegments`) that lie in clean mappings and hold no byte of the objects' other
    /// segments (RELRO, writable, zero-filled).
    static func releasableRanges(objects: [[mw_segment]], clean: [Mapping], pageSize: UInt) -> [mw_range] {
        var ranges: [mw_range] = []
        for all in objects {
            let readOnly = all.filter { $0.kind == 0 }.map { UInt($0.start)..<UInt($0.end) }
            let others = all.filter { $0.kind != 0 }.map { UInt($0.start)..<UInt($0.end) }
            for range in releasable(segments: readOnly, others: others, clean: clean, pageSize: pageSize)
            where !others.contains(where: { $0.overlaps(range) }) {
                ranges.append(mw_range(start: UInt(range.lowerBound), end: UInt(range.upperBound)))
            }
        }
        return ranges
    }

    /// Drops the clean start-up pages of the loaded objects' read-only segments; returns the
    /// kilobytes by which the resident file pages fell (0 when `/proc` cannot be read).
    ///
    /// Everything is worked out first; the pages are then given back by one C call
    /// (`mw_release_ranges`), so that what runs after it (and stays resident, with the pages
    /// around it) is only this function's end and the log line. That end is among the
    /// functions the release link puts first (`scripts/hot-functions.sh` pins it).
    @discardableResult
    static func release(logger: Logger, again: Bool = false) -> Int {
        let began = ContinuousClock.now
        var cpuBegan = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpuBegan)
        let objects = loadedSegments()
        guard let smaps = ProcFile.read("/proc/self/smaps") else { return 0 }
        let ranges = releasableRanges(objects: objects, clean: clean(mappings(smaps: smaps)), pageSize: UInt(max(sysconf(Int32(_SC_PAGESIZE)), 4096)))
        let before = mw_resident_file_kb()
        let result = ranges.withUnsafeBufferPointer { mw_release_ranges($0.baseAddress, $0.count, again ? 0 : 1) }
        let after = mw_resident_file_kb()
        let released = before >= 0 && after >= 0 ? max(before - after, 0) : 0
        if result.failures > 0 {
            logger.debug("could not release some start-up pages", metadata: ["process.madvise_failures": .stringConvertible(result.failures)])
        }
        if result.advised_bytes > 0 {
            // statm's figure is the whole process's, approximate: information, not the condition.
            if again {
                logger.debug("pages released again", metadata: ["process.released_kb": .stringConvertible(released),
                                                               "process.release_duration": "\(ContinuousClock.now - began)",
                                                               "process.release_cpu_us": .stringConvertible(Self.cpuMicroseconds(since: cpuBegan))])
            } else {
                logger.info("start-up pages released", metadata: ["process.released_kb": .stringConvertible(released),
                                                                  "process.recached_conformance_kb": .stringConvertible(result.recached_bytes / 1024)])
            }
        }
        return released
    }

    /// This thread's CPU time since `start`, in microseconds.
    static func cpuMicroseconds(since start: timespec) -> Int {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return (now.tv_sec - start.tv_sec) * 1_000_000 + (now.tv_nsec - start.tv_nsec) / 1000
    }

    /// When to release again. After start-up, a path the daemon runs once maps pages that stay
    /// resident though nothing touches them again: the first alert that fires, its runbook and
    /// its delivery; and any first lookup of a type's conformance (a new generic type, a
    /// dynamic cast), which reads every conformance record of the executable, about 1 MB of
    /// constants. The readiness watcher asks at each status change (every cycle among them)
    /// with the resident file pages (`mw_resident_file_kb`).
    ///
    /// Once `settle` has passed since a release (every group has run its cycles again and
    /// mapped back what it uses), the figure at the first look is the working set's, kept until
    /// the next release: a lower one later (the kernel reclaimed pages the cycles then fault
    /// back) is not a new baseline, or getting them back would look like growth. When the
    /// resident file pages exceed the baseline by more than `growthKB` and have stopped rising,
    /// the clean read-only pages are released again, and the next cycles map back only what
    /// they use. Releases back off: the gap before the next one is `settle`, then doubles after
    /// each (at most ten minutes, or `settle` when that is longer), so work that recurs (the
    /// configuration analysis every 15 minutes, a working set that truly grew) costs a release now
    /// and then (about 5 ms, and the next cycle's page faults), never one per cycle. (Capped at an
    /// hour before, a daemon that had fired alerts kept their one-off paths mapped for most of
    /// that hour: 15.9 MB grew to 17.4 MB in 25 minutes of the benchmark's scenario.) Anonymous memory is not looked at (the
    /// heap's ups and downs are not pages that can be given back this way).
    struct Regrowth {
        let settle: Duration
        let growthKB: Int
        private(set) var releasedAt: ContinuousClock.Instant?
        private(set) var baselineKB: Int?
        /// Releases after the first (the start-up's).
        private(set) var releases = 0
        /// The figure at the last look.
        private var lastKB: Int?

        /// `settle`: twice the longest group interval, never below 30 s.
        init(longestInterval: Duration, growthKB: Int = 1024) {
            precondition(growthKB >= 0)
            settle = max(longestInterval * 2, .seconds(30))
            self.growthKB = growthKB
        }

        /// The least time from the last release to the next.
        var gap: Duration {
            let cap = max(settle, .seconds(600))
            var gap = settle
            for _ in 0..<min(releases, 32) where gap < cap { gap *= 2 }
            return min(gap, cap)
        }

        mutating func released(at now: ContinuousClock.Instant) {
            if releasedAt != nil { releases += 1 }
            releasedAt = now
            baselineKB = nil
        }

        /// With the resident file kilobytes (negative: unknown): true when the pages should be
        /// released again now (the caller then calls `released(at:)`). Not while the figure
        /// still rises: what a firing alert sets off (its runbook, its delivery) runs after the
        /// cycle that fired it, and is given back with it.
        mutating func due(residentKB: Int, at now: ContinuousClock.Instant) -> Bool {
            guard residentKB >= 0 else { return false }
            let last = lastKB
            lastKB = residentKB
            guard let releasedAt, now - releasedAt >= settle else { return false }
            guard let baselineKB else {
                baselineKB = residentKB
                return false
            }
            return now - releasedAt >= gap && residentKB - baselineKB > growthKB && residentKB <= last ?? .max
        }
    }
}
