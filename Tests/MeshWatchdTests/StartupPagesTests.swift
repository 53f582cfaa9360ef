import CLoader
import Foundation
import Logging
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import Testing

@Suite("Start-up's pages released once the groups have run: only clean read-only mappings of the executable and pinned libraries",
       .serialized)  // two tests release this process's pages: run together, the second finds little left
struct StartupPagesTests {
    static let smaps = """
        555555554000-555555600000 r--p 00000000 08:01 1234                       /opt/mw/meshwatchd
        Size:                688 kB
        Rss:                 600 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        555555600000-555557000000 r-xp 000ac000 08:01 1234                       /opt/mw/meshwatchd
        Size:              26000 kB
        Rss:               22000 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        555557000000-555557100000 r--p 01aac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                1024 kB
        Anonymous:           800 kB
        Swap:                  0 kB
        Locked:                0 kB
        555557100000-555557200000 rw-p 01bac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                1024 kB
        Anonymous:           100 kB
        Swap:                  0 kB
        Locked:                0 kB
        555557200000-555557300000 r--p 01cac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                   0 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        555557300000-555557400000 r-xp 01dac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                  64 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:               64 kB
        555557400000-555557500000 r-xs 00000000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                  64 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        555557500000-555557600000 r--p 01fac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                 512 kB
        Anonymous:             0 kB
        Swap:                 64 kB
        Locked:                0 kB
        555557600000-555557700000 r--p 020ac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                 512 kB
        Swap:                  0 kB
        Locked:                0 kB
        5555577zz000-555557800000 r--p 021ac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                 512 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        7ffff7a00000-7ffff7c00000 r-xp 00028000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
        Rss:                1200 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        7ffff7e00000-7ffff7f00000 rw-p 00000000 00:00 0
        Rss:                 400 kB
        Anonymous:           400 kB
        Swap:                  0 kB
        7ffff7f00000-7ffff7f10000 r-xp 00000000 00:00 0                          [vdso]
        Rss:                   8 kB
        Anonymous:             0 kB
        Swap:                  0 kB
        Locked:                0 kB
        """

    @Test("clean read-only private mappings of files are chosen; RELRO, writable, locked, shared, swapped, empty, unreadable, the vDSO and anonymous memory never")
    func choice() {
        let mappings = StartupPages.mappings(smaps: Self.smaps)
        // The garbled header is no mapping, and its fields are not counted to the one before.
        #expect(mappings.count == 12)
        #expect(mappings[1] == StartupPages.Mapping(start: 0x5555_5560_0000, end: 0x5555_5700_0000, permissions: "r-xp",
                                                    path: "/opt/mw/meshwatchd", residentKB: 22000, anonymousKB: 0, swapKB: 0, lockedKB: 0))
        #expect(mappings[8].anonymousKB == nil && mappings[8].residentKB == 512)
        #expect(mappings[10].path == "" && mappings[10].anonymousKB == 400)
        #expect(mappings[11].path == "[vdso]")
        // The executable's first two and the library's text; not the one with a page in swap
        // (a private copy, out of memory), nor the one whose smaps says nothing of anonymous pages.
        let clean = StartupPages.clean(mappings)
        #expect(clean.map(\.start) == [0x5555_5555_4000, 0x5555_5560_0000, 0x7fff_f7a0_0000])
        #expect(StartupPages.mappings(smaps: "Rss: 12 kB\nzz-yy r-xp\n\u{0}\n").isEmpty)
    }

    /// The reader as it was, a line split into fields (on bytes, as the kernel writes them):
    /// what the byte reader must match.
    static func splitReader(_ smaps: String) -> [StartupPages.Mapping] {
        var mappings: [StartupPages.Mapping] = []
        var current: Int?
        for line in smaps.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
                .map { String(decoding: $0, as: UTF8.self) }
            guard let first = fields.first else { continue }
            if first.utf8.last == UInt8(ascii: ":") && !first.utf8.contains(UInt8(ascii: "-")) {
                guard let index = current, fields.count >= 2 else { continue }
                let value = Int(fields[1])
                switch first {
                case "Rss:": mappings[index].residentKB = value
                case "Anonymous:": mappings[index].anonymousKB = value
                case "Swap:": mappings[index].swapKB = value
                case "Locked:": mappings[index].lockedKB = value
                default: break
                }
                continue
            }
            current = nil
            let bounds = first.split(separator: "-")
            guard bounds.count == 2, fields.count >= 5, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                  start < end else { continue }
            let path = fields.count == 6 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            mappings.append(StartupPages.Mapping(start: start, end: end, permissions: String(fields[1]), path: path))
            current = mappings.count - 1
        }
        return mappings
    }

    @Test("the byte reader reads this process's smaps, the sample and garbled copies of both as the line splitter did")
    func byteReaderMatchesSplitter() throws {
        let own = try #require(ProcFile.read("/proc/self/smaps"))
        var texts = [own, Self.smaps, "", "\n\n", "Rss: 12 kB\nzz-yy r-xp\n\u{0}\n", "  Rss:  7 kB", "Rss:", "a-b:"]
        // Seeded, so that a failure can be replayed: the seed is in the message.
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SplitMix(seed: seed)
        let pieces = ["Rss:", "Anonymous:", "Swap:", "Locked:", "-", ":", " ", "  ", "\n", "kB", "12", "-3", "+4", "x", "1a-2b",
                      "7f00-7f10", "r--p", "\u{0}", "é", "\t", "(deleted)", "/a b", "\r", "\u{301}", "\r\n"]
        for base in [own, Self.smaps] {
            let lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for _ in 0..<200 {
                var copy = lines
                for _ in 0..<8 {
                    let at = Int.random(in: 0..<copy.count, using: &generator)
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: copy[at] = String(copy[at].prefix(Int.random(in: 0...copy[at].count, using: &generator)))
                    case 1: copy.insert((0..<Int.random(in: 1...5, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined(), at: at)
                    case 2: copy[at] += pieces.randomElement(using: &generator)!
                    default: copy.remove(at: at)
                    }
                    if copy.isEmpty { copy = [""] }
                }
                texts.append(copy.joined(separator: "\n"))
            }
        }
        for text in texts {
            let read = StartupPages.mappings(smaps: text), split = Self.splitReader(text)
            guard read != split else { continue }
            let index = (0..<min(read.count, split.count)).first { read[$0] != split[$0] } ?? min(read.count, split.count)
            Issue.record("seed \(seed): mapping \(index) differs: \(index < read.count ? "\(read[index])" : "none") against \(index < split.count ? "\(split[index])" : "none")")
            break
        }
        #expect(StartupPages.mappings(smaps: own).count > 10)
    }

    @Test("only whole pages of the loader's read-only segments inside clean mappings are released; a segment's first and last pages too, unless another segment of the object has a byte in them")
    func ranges() {
        let clean = StartupPages.clean(StartupPages.mappings(smaps: Self.smaps))
        let page: UInt = 4096
        // A segment from mid-page in the first mapping into the second, alone in its pages: out to
        // whole pages (its own first and last), cut at the mappings.
        let segment: Range<UInt> = 0x5555_5555_4010..<0x5555_5560_1800
        #expect(StartupPages.releasable(segments: [segment], clean: clean, pageSize: page)
            == [0x5555_5555_4000..<0x5555_5560_0000, 0x5555_5560_0000..<0x5555_5560_2000])
        // Its first page shared with a writable segment, its last with another read-only one: both kept.
        #expect(StartupPages.releasable(segments: [segment, 0x5555_5560_1800..<0x5555_5560_3000],
                                        others: [0x5555_5555_3000..<0x5555_5555_4020], clean: clean, pageSize: page)
            == [0x5555_5555_5000..<0x5555_5560_0000, 0x5555_5560_0000..<0x5555_5560_1000, 0x5555_5560_2000..<0x5555_5560_3000])
        // A RELRO range or a zero-filled part in the last page: kept; one byte past the segment's end page: no matter.
        #expect(StartupPages.releasable(segments: [segment], others: [0x5555_5560_1fff..<0x5555_5560_2000], clean: clean, pageSize: page)
            == [0x5555_5555_4000..<0x5555_5560_0000, 0x5555_5560_0000..<0x5555_5560_1000])
        #expect(StartupPages.releasable(segments: [segment], others: [0x5555_5560_2000..<0x5555_5560_2001], clean: clean, pageSize: page)
            == [0x5555_5555_4000..<0x5555_5560_0000, 0x5555_5560_0000..<0x5555_5560_2000])
        // A segment inside one page another segment shares: nothing.
        #expect(StartupPages.releasable(segments: [0x5555_5560_0100..<0x5555_5560_0200], others: [0x5555_5560_0300..<0x5555_5560_0400],
                                        clean: clean, pageSize: page).isEmpty)
        // The RELRO mapping (anonymous pages) and the swapped one are in no clean mapping: nothing.
        #expect(StartupPages.releasable(segments: [0x5555_5700_0000..<0x5555_5710_0000, 0x5555_5750_0000..<0x5555_5760_0000],
                                        clean: clean, pageSize: page).isEmpty)
        // Less than a page, alone in it: that page.
        #expect(StartupPages.releasable(segments: [0x5555_5560_0010..<0x5555_5560_0ff0], clean: clean, pageSize: page)
            == [0x5555_5560_0000..<0x5555_5560_1000])
    }

    @Test("released again only when the resident file pages grow more than a megabyte above the working set that settled after the last release and stop rising; the gap between releases doubles, to ten minutes at most")
    func regrowth() {
        let start = ContinuousClock.now
        var regrowth = StartupPages.Regrowth(longestInterval: .seconds(15))
        func due(_ residentKB: Int, _ seconds: Int) -> Bool { regrowth.due(residentKB: residentKB, at: start + .seconds(seconds)) }
        #expect(regrowth.settle == .seconds(30) && regrowth.gap == .seconds(30))
        #expect(StartupPages.Regrowth(longestInterval: .seconds(1)).settle == .seconds(30))
        #expect(StartupPages.Regrowth(longestInterval: .seconds(300)).settle == .seconds(600))
        // Nothing released yet (start-up not over): never.
        #expect(!due(50_000, 100))
        regrowth.released(at: start)
        #expect(regrowth.releases == 0)
        // While the working set comes back: no baseline, whatever the figure.
        #expect(!due(9_000, 15))
        #expect(!due(40_000, 29))
        #expect(regrowth.baselineKB == nil)
        // The first figure after it settled is the baseline.
        #expect(!due(10_000, 30))
        #expect(regrowth.baselineKB == 10_000)
        #expect(!due(11_024, 45))
        // Unknown (statm unreadable): nothing.
        #expect(!due(-1, 50))
        // A lower figure (pages the kernel reclaimed) is not a new baseline: getting them back is no growth.
        #expect(!due(8_000, 55))
        #expect(regrowth.baselineKB == 10_000)
        #expect(!due(11_000, 58))
        // Past the megabyte, but still rising (a firing alert's runbook and delivery follow its cycle): not yet.
        #expect(!due(11_025, 60))
        #expect(!due(11_500, 62))
        #expect(due(11_500, 64))
        regrowth.released(at: start + .seconds(64))
        #expect(regrowth.baselineKB == nil && regrowth.releases == 1 && regrowth.gap == .seconds(60))
        #expect(!due(20_000, 75))
        // Settled at 94 s: the new baseline; grown again, but the gap (60 s) has not passed.
        #expect(!due(12_000, 94))
        #expect(!due(13_100, 105))
        #expect(!due(13_100, 123))
        #expect(due(13_100, 124))
        regrowth.released(at: start + .seconds(124))
        #expect(regrowth.gap == .seconds(120))
        regrowth.released(at: start + .seconds(124))
        regrowth.released(at: start + .seconds(124))
        #expect(regrowth.gap == .seconds(480))
        // At most ten minutes: what one-off paths (a firing alert's runbook, a delivery) mapped is given back within them.
        regrowth.released(at: start + .seconds(124))
        #expect(regrowth.gap == .seconds(600))
        for _ in 0..<40 { regrowth.released(at: start + .seconds(124)) }
        #expect(regrowth.gap == .seconds(600))
        #expect(StartupPages.Regrowth(longestInterval: .seconds(3000)).gap == .seconds(6000))
        var slow = StartupPages.Regrowth(longestInterval: .seconds(3000))
        for _ in 0..<5 { slow.released(at: start) }
        #expect(slow.gap == .seconds(6000))
    }

    @Test("a private mapping with one written page, made read-only, is not clean (the page would be lost)")
    func writtenPageIsNotClean() throws {
        let path = NSTemporaryDirectory() + "startup-pages-\(UUID().uuidString)"
        try Data(repeating: 7, count: 4 * 4096).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let mapped = try #require(mmap(nil, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0))
        try #require(mapped != MAP_FAILED)
        defer { munmap(mapped, 4 * 4096) }
        _ = mapped.load(fromByteOffset: 0, as: UInt8.self)
        mapped.storeBytes(of: 9, toByteOffset: 2 * 4096, as: UInt8.self)
        #expect(mprotect(mapped, 4 * 4096, PROT_READ) == 0)
        let start = UInt(bitPattern: mapped)
        let mappings = StartupPages.mappings(smaps: try #require(ProcFile.read("/proc/self/smaps"))).filter { $0.path == path }
        #expect(mappings.count == 1 && mappings.first?.start == start && mappings.first?.permissions == "r--p", "\(mappings)")
        #expect((mappings.first?.anonymousKB ?? 0) > 0)
        #expect(StartupPages.clean(mappings).isEmpty)
        // Its clean twin (nothing written) is clean; the loader never mapped either, so release leaves both.
        let twin = try #require(mmap(nil, 4 * 4096, PROT_READ, MAP_PRIVATE, descriptor, 0))
        try #require(twin != MAP_FAILED)
        defer { munmap(twin, 4 * 4096) }
        _ = twin.load(fromByteOffset: 0, as: UInt8.self)
        let again = StartupPages.mappings(smaps: try #require(ProcFile.read("/proc/self/smaps"))).filter { $0.path == path }
        #expect(StartupPages.clean(again).map(\.start) == [UInt(bitPattern: twin)])
        StartupPages.release(logger: Logger(label: "test"))
        #expect(mapped.load(fromByteOffset: 2 * 4096, as: UInt8.self) == 9)
        let after = StartupPages.mappings(smaps: try #require(ProcFile.read("/proc/self/smaps"))).filter { $0.start == UInt(bitPattern: twin) }
        #expect(after.first?.residentKB == again.first { $0.start == UInt(bitPattern: twin) }?.residentKB)
    }

    @Test("released in a running process (this one, with other tests running): its executable's and libraries' read-only pages leave the resident set, and the code still runs")
    func releaseInProcess() throws {
        // Resident kilobytes of the clean read-only mappings: the executable's, and the libraries'.
        func residentKB() throws -> (executable: Int, libraries: Int) {
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let smaps = try #require(ProcFile.read("/proc/self/smaps"))
            #expect(smaps.contains("[stack]"))  // read to its end
            let clean = StartupPages.clean(StartupPages.mappings(smaps: smaps))
            return (clean.filter { $0.path == executable }.map { $0.residentKB ?? 0 }.reduce(0, +),
                    clean.filter { $0.path != executable && $0.path.contains(".so") }.map { $0.residentKB ?? 0 }.reduce(0, +))
        }
        // Every page of those mappings resident first: what ran before (another test's release)
        // may have given them back already.
        let smaps = try #require(ProcFile.read("/proc/self/smaps"))
        var sum: UInt8 = 0
        for mapping in StartupPages.clean(StartupPages.mappings(smaps: smaps)) {
            for page in stride(from: mapping.start, to: mapping.end, by: 4096) {
                sum &+= UnsafePointer<UInt8>(bitPattern: page)!.pointee
            }
        }
        withExtendedLifetime(sum) {}
        let before = try residentKB()
        let released = StartupPages.release(logger: Logger(label: "test"))
        let after = try residentKB()
        #expect(released > 0 && released >= before.executable / 2, "released \(released) kB of \(before) kB")
        // What runs next faults its pages back in; much less than was resident comes back at once.
        #expect(after.executable < before.executable, "resident before \(before) kB, after \(after) kB")
        #expect(after.libraries < before.libraries, "resident before \(before) kB, after \(after) kB")
    }

    @Test("released in this process: no loaded object's program headers come back with the release (the first or a later one), and no segment's last page stays behind (unless another segment shares it)")
    func headersAndLastPagesReleased() throws {
        // Each object's first page (its ELF header and program headers: the start of its first
        // read-only segment) and the last page of each of its read-only segments that no other
        // segment of it has a byte in.
        final class Pages { var headers: [UInt] = []; var lastPages: [UInt] = [] }
        let pages = Pages()
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let context = Unmanaged.passRetained(pages)
        defer { context.release() }
        mw_each_loaded_object({ segments, count, context in
            guard let segments, let context, count > 0 else { return }
            let pages = Unmanaged<Pages>.fromOpaque(context).takeUnretainedValue()
            let all = Array(UnsafeBufferPointer(start: segments, count: count))
            let size = UInt(sysconf(Int32(_SC_PAGESIZE)))
            let readOnly = all.filter { $0.kind == 0 }
            guard let first = readOnly.min(by: { $0.start < $1.start }) else { return }
            pages.headers.append(UInt(first.start) / size * size)
            for segment in readOnly {
                let last = (UInt(segment.end) - 1) / size * size
                let shared = all.contains { other in
                    (other.start != segment.start || other.kind != segment.kind) && UInt(other.start) < last + size && last < UInt(other.end)
                }
                if !shared { pages.lastPages.append(last) }
            }
        }, context.toOpaque())
        // Only pages of clean mappings (the vDSO, a written page: never released), all made resident.
        let clean = StartupPages.clean(StartupPages.mappings(smaps: try #require(ProcFile.read("/proc/self/smaps"))))
        func inClean(_ address: UInt) -> Bool { clean.contains { $0.start <= address && address + page <= $0.end } }
        let headers = pages.headers.filter(inClean), lastPages = pages.lastPages.filter(inClean)
        var sum: UInt8 = 0
        for address in headers + lastPages { sum &+= UnsafePointer<UInt8>(bitPattern: address)!.pointee }
        withExtendedLifetime(sum) {}
        try #require(headers.count >= 3 && lastPages.count >= 3, "headers \(headers.count), last pages \(lastPages.count)")
        let pagemap = open("/proc/self/pagemap", O_RDONLY)
        try #require(pagemap >= 0)
        defer { close(pagemap) }
        func resident(_ addresses: [UInt]) -> Int {
            addresses.filter { address in
                var entry: UInt64 = 0
                return pread(pagemap, &entry, 8, off_t(address / page * 8)) == 8 && entry >> 63 == 1
            }.count
        }
        #expect(resident(headers) == headers.count && resident(lastPages) == lastPages.count)
        StartupPages.release(logger: Logger(label: "test"))
        // Read at once: other tests running beside may touch a few (a dl_iterate_phdr of theirs); before the
        // fix every header came back (read again after its page was given back) and every last page stayed.
        let headersBack = resident(headers), lastPagesLeft = resident(lastPages)
        #expect(headersBack * 5 <= headers.count, "\(headersBack) of \(headers.count) objects' program headers resident after the release")
        #expect(lastPagesLeft * 5 <= lastPages.count, "\(lastPagesLeft) of \(lastPages.count) segments' last pages resident after the release")
        // Released again with the headers not resident (a daemon's later releases): the release reads
        // them (and maps them) before it reads smaps, so they are found clean and given back again.
        // Read after smaps, they were found not resident, not chosen, and kept: all of them, each time.
        StartupPages.release(logger: Logger(label: "test"), again: true)
        let headersBackAgain = resident(headers)
        #expect(headersBackAgain * 5 <= headers.count, "\(headersBackAgain) of \(headers.count) objects' program headers resident after a second release")
    }

    /// A daemon with the Istio pack at a 1 s interval, its Prometheus not answering; and its state directory.
    static func startDaemon(executable: String = DaemonTests.binary) async throws -> (DaemonTests.Daemon, String) {
        let state = try DaemonTests.temporaryDirectory()
        try #"{"packs": {"istio": {"parameters": {"interval": "1s"}}}}"#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
        do {
            let daemon = try await DaemonTests().start(["--config", state + "/config.json", "--prometheus", "http://127.0.0.1:\(try LoopbackPort.free())",
                                                        "--state-directory", state], notify: nil, executable: executable)
            return (daemon, state)
        } catch {
            try? FileManager.default.removeItem(atPath: state)
            throw error
        }
    }

    @Test("constants come back a page at a time: the daemon's read-only data gets MADV_RANDOM and its executable's is dropped from the page cache; its code keeps its cache")
    func constantsComeBackByThePage() async throws {
        // The executable's read-only mappings in a process, with file offset and advice flags (none of RELRO: no anonymous page).
        struct Segment { var start: UInt; var end: UInt; var offset: Int; var code: Bool; var random: Bool }
        func segments(_ pid: Int32, _ executable: String) throws -> [Segment] {
            var found: [Segment] = []
            var current: Segment?
            var anonymous = 0
            for line in try #require(ProcFile.read("/proc/\(pid)/smaps")).split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if let first = fields.first, first.contains("-"), !first.hasSuffix(":"), fields.count >= 6 {
                    let bounds = first.split(separator: "-")
                    current = nil
                    guard String(fields[5]) == executable, fields[1] == "r--p" || fields[1] == "r-xp",
                          let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                          let offset = Int(fields[2], radix: 16) else { continue }
                    current = Segment(start: start, end: end, offset: offset, code: fields[1] == "r-xp", random: false)
                } else if fields.first == "Anonymous:" {
                    anonymous = fields.count > 1 ? Int(fields[1]) ?? 1 : 1
                } else if fields.first == "VmFlags:", var segment = current {
                    segment.random = fields.contains("rr")
                    if anonymous == 0 { found.append(segment) }
                    current = nil
                }
            }
            return found
        }
        // Pages of the file's range in the page cache (mincore over this process's own mapping of the file).
        func cachedPages(_ executable: String, _ segment: Segment) throws -> (cached: Int, pages: Int) {
            let descriptor = open(executable, O_RDONLY)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let length = Int(segment.end - segment.start)
            let mapped = try #require(mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, off_t(segment.offset / page * page)))
            try #require(mapped != MAP_FAILED)
            defer { munmap(mapped, length) }
            var vector = [UInt8](repeating: 0, count: (length + page - 1) / page)
            try #require(mincore(mapped, length, &vector) == 0)
            return (vector.filter { $0 & 1 == 1 }.count, vector.count)
        }
        // A copy of the daemon's executable of its own (other tests' daemons map the shared one, and
        // the kernel keeps the pages a process maps), read through, so that all of it is cached when
        // the daemon starts.
        let copy = try DaemonTests.temporaryDirectory() + "/meshwatchd"
        defer { try? FileManager.default.removeItem(atPath: (copy as NSString).deletingLastPathComponent) }
        try FileManager.default.copyItem(atPath: DaemonTests.binary, toPath: copy)
        let descriptor = open(copy, O_RDONLY)
        try #require(descriptor >= 0)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
            guard count > 0 else { break }
            offset += count
        }
        // Written back (the kernel drops clean pages only; a copy just written is dirty).
        #expect(fsync(descriptor) == 0)
        close(descriptor)

        let (daemon, state) = try await Self.startDaemon(executable: copy)
        defer { try? FileManager.default.removeItem(atPath: state) }
        defer { daemon.signal(SIGKILL) }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon.process.processIdentifier)/exe")
        let before = try segments(daemon.process.processIdentifier, executable)
        let data = try #require(before.first { !$0.code }, "\(before)")
        let code = try #require(before.first { $0.code }, "\(before)")
        let line = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "start-up pages released" }
        try #require(line != nil, "log:\n\(daemon.log.suffix(3000))")
        #expect(await daemon.waitForCycles(2, group: "meshwatchd-istio"), "log:\n\(daemon.log.suffix(3000))")
        let after = try segments(daemon.process.processIdentifier, executable)
        #expect(after.contains { $0.start <= data.start && data.start < $0.end && $0.random }, "\(after)")
        #expect(after.contains { $0.start == code.start && !$0.random }, "\(after)")
        // What the daemon read since came back a page at a time: far less than the whole.
        let constants = try cachedPages(executable, data), instructions = try cachedPages(executable, code)
        #expect(constants.cached < constants.pages / 2, "the executable's constants: \(constants.cached) of \(constants.pages) pages cached")
        #expect(instructions.cached > instructions.pages / 2, "the executable's code: \(instructions.cached) of \(instructions.pages) pages cached")
        #expect(daemon.process.isRunning)
    }

    @Test("the executable's conformance pages: sorted, each once, each in a mapping of the executable, the records' own pages among them")
    func conformancePages() throws {
        let count = mw_conformance_pages(nil, 0)
        #expect(count > 50, "\(count) pages")
        var pages = [UInt](repeating: 0, count: count)
        #expect(mw_conformance_pages(&pages, count) == count)
        #expect(pages == pages.sorted() && Set(pages).count == pages.count)
        let size = UInt(sysconf(Int32(_SC_PAGESIZE)))
        #expect(pages.allSatisfy { $0 % size == 0 })
        // Every page lies in a mapping of this process's executable (constants, or RELRO).
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let mapped = try #require(ProcFile.read("/proc/self/maps")).split(separator: "\n").compactMap { line -> Range<UInt>? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, String(fields[5]) == executable else { return nil }
            let bounds = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            return bounds.count == 2 ? bounds[0]..<bounds[1] : nil
        }
        let outside = pages.filter { page in !mapped.contains { $0.contains(page) } }
        #expect(outside.isEmpty, "\(outside.count) of \(count) pages outside the executable's mappings")
        // A smaller buffer gets the first pages and the full count.
        var first = [UInt](repeating: 0, count: 3)
        #expect(mw_conformance_pages(&first, 3) == count && first == Array(pages.prefix(3)))
    }

    @Test("the daemon releases them once every group has run, and goes on evaluating and answering")
    func daemonReleases() async throws {
        let (daemon, state) = try await Self.startDaemon()
        defer { try? FileManager.default.removeItem(atPath: state) }
        defer { daemon.signal(SIGKILL) }
        let line = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "start-up pages released" }
        #expect(line?["process.released_kb"].flatMap(Int.init).map { $0 > 1000 } == true, "log:\n\(daemon.log.suffix(3000))")
        // The conformance records and descriptors were read back into the page cache (~1 MB).
        #expect(line?["process.recached_conformance_kb"].flatMap(Int.init).map { $0 > 100 && $0 < 8192 } == true, "\(line ?? [:])")
        let ready = try #require(daemon.logLines.firstIndex { $0["msg"] == "ready" }, "log:\n\(daemon.log.suffix(3000))")
        let released = try #require(daemon.logLines.firstIndex { $0["msg"] == "start-up pages released" })
        #expect(ready < released)
        #expect(await daemon.waitForCycles(3, group: "meshwatchd-istio"), "log:\n\(daemon.log.suffix(3000))")
        #expect(try await HTTPClient().get(daemon.statusURL("/metrics")).status == 200)
        #expect(daemon.process.isRunning)
    }
}
