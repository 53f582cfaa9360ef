import Foundation
import Logging
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import Testing

@Suite("Start-up's pages released once the groups have run: only clean read-only mappings of the executable and pinned libraries")
struct StartupPagesTests {
    static let smaps = """
        555555554000-555555600000 r--p 00000000 08:01 1234                       /opt/mw/meshwatchd
        Size:                688 kB
        Rss:                 600 kB
        Anonymous:             0 kB
        Locked:                0 kB
        555555600000-555557000000 r-xp 000ac000 08:01 1234                       /opt/mw/meshwatchd
        Size:              26000 kB
        Rss:               22000 kB
        Anonymous:             0 kB
        Locked:                0 kB
        555557000000-555557100000 r--p 01aac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                1024 kB
        Anonymous:           800 kB
        Locked:                0 kB
        555557100000-555557200000 rw-p 01bac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                1024 kB
        Anonymous:           100 kB
        555557200000-555557300000 r--p 01cac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                   0 kB
        Anonymous:             0 kB
        555557300000-555557400000 r-xp 01dac000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                  64 kB
        Anonymous:             0 kB
        Locked:               64 kB
        555557400000-555557500000 r-xs 00000000 08:01 1234                       /opt/mw/meshwatchd
        Rss:                  64 kB
        Anonymous:             0 kB
        7ffff7a00000-7ffff7c00000 r-xp 00028000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
        Rss:                1200 kB
        Anonymous:             0 kB
        7ffff7e00000-7ffff7f00000 rw-p 00000000 00:00 0
        Rss:                 400 kB
        Anonymous:           400 kB
        7ffff7f00000-7ffff7f10000 r-xp 00000000 00:00 0                          [vdso]
        Rss:                   8 kB
        Anonymous:             0 kB
        """

    @Test("clean read-only private mappings of files are chosen; RELRO, writable, locked, shared, empty, the vDSO and anonymous memory never")
    func choice() {
        let mappings = StartupPages.mappings(smaps: Self.smaps)
        #expect(mappings.count == 10)
        #expect(mappings[1] == StartupPages.Mapping(start: 0x5555_5560_0000, end: 0x5555_5700_0000, permissions: "r-xp",
                                                    path: "/opt/mw/meshwatchd", residentKB: 22000, anonymousKB: 0, lockedKB: 0))
        #expect(mappings[8].path == "" && mappings[8].anonymousKB == 400 && mappings[9].path == "[vdso]")
        // The library's clean text too (release pins a library before it drops its pages); the
        // vDSO and anonymous memory are no file.
        let chosen = StartupPages.releasable(mappings)
        #expect(chosen.map(\.start) == [0x5555_5555_4000, 0x5555_5560_0000, 0x7fff_f7a0_0000])
        // A garbled text is no mapping.
        #expect(StartupPages.mappings(smaps: "Rss: 12 kB\nzz-yy r-xp\n\u{0}\n").isEmpty)
    }

    @Test("released in a running process (this one, with other tests running): its executable's text leaves the resident set, and the code still runs")
    func releaseInProcess() throws {
        // Resident kilobytes of the clean read-only mappings: the executable's, and the libraries'.
        func residentKB() throws -> (executable: Int, libraries: Int) {
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let smaps = try #require(ProcFile.read("/proc/self/smaps"))
            #expect(smaps.contains("[stack]"))  // read to its end
            let clean = StartupPages.releasable(StartupPages.mappings(smaps: smaps))
            return (clean.filter { $0.path == executable }.map(\.residentKB).reduce(0, +),
                    clean.filter { $0.path != executable && $0.path.contains(".so") }.map(\.residentKB).reduce(0, +))
        }
        let before = try residentKB()
        let released = StartupPages.release(logger: Logger(label: "test"))
        let after = try residentKB()
        #expect(released > 0 && released >= before.executable / 2, "released \(released) kB of \(before) kB")
        // What runs next faults its pages back in; much less than was resident comes back at once.
        #expect(after.executable < before.executable, "resident before \(before) kB, after \(after) kB")
        #expect(after.libraries < before.libraries, "resident before \(before) kB, after \(after) kB")
        #expect(StartupPages.mappings(smaps: Self.smaps).count == 10)
    }

    @Test("the daemon releases them once every group has run, and goes on evaluating and answering")
    func daemonReleases() async throws {
        let state = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        try #"{"packs": {"istio": {"parameters": {"interval": "1s"}}}}"#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)
        let daemon = try await DaemonTests().start(["--config", state + "/config.json", "--prometheus", "http://127.0.0.1:\(try LoopbackPort.free())",
                                                    "--state-directory", state], notify: nil)
        defer { daemon.signal(SIGKILL) }
        let line = await daemon.waitForLog(.seconds(60)) { $0["msg"] == "start-up pages released" }
        #expect(line?["process.released_kb"].flatMap(Int.init).map { $0 > 1000 } == true, "log:\n\(daemon.log.suffix(3000))")
        let ready = try #require(daemon.logLines.firstIndex { $0["msg"] == "ready" }, "log:\n\(daemon.log.suffix(3000))")
        let released = try #require(daemon.logLines.firstIndex { $0["msg"] == "start-up pages released" })
        #expect(ready < released)
        #expect(await daemon.waitForCycles(3, group: "meshwatchd-istio"), "log:\n\(daemon.log.suffix(3000))")
        #expect(try await HTTPClient().get(daemon.statusURL("/metrics")).status == 200)
        #expect(daemon.process.isRunning)
    }
}
