import AlertEngine
import Foundation
import GRDB
import Incidents
import Logging
import MeshTestKit
@testable import MeshWatchdCore
import MetricModel
import Testing

@Suite("The SQLite state store")
struct StateStoreTests {
    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "meshwatchd-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a snapshot saved per group comes back whole; saving again replaces it")
    func roundTrip() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try StateStore(path: path + "/state.sqlite", logger: Logger(label: "test"))
        let instance = AlertInstance(labels: Labels(["alertname": "A", "x": "1"]), annotations: Labels(["s": "t"]),
                                     state: .firing, value: .nan, activeAt: Date(timeIntervalSince1970: 100),
                                     firedAt: Date(timeIntervalSince1970: 160), lastSentAt: Date(timeIntervalSince1970: 170))
        let snapshot = EngineSnapshot(takenAt: Date(timeIntervalSince1970: 200), rules: ["A/1": [instance]])
        try store.save(group: "g", snapshot: snapshot)
        #expect(try store.load(group: "g") == snapshot)
        #expect(try store.load(group: "other") == nil)
        let empty = EngineSnapshot(takenAt: Date(timeIntervalSince1970: 230), rules: [:])
        try store.save(group: "g", snapshot: empty)
        #expect(try StateStore(path: path + "/state.sqlite", logger: Logger(label: "test")).load(group: "g") == empty)
    }

    @Test("a corrupt file is moved aside, the store starts clean, and says so loudly")
    func corruptFile() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path + "/state.sqlite"))
        let logs = CapturedLogs()
        let store = try StateStore(path: path + "/state.sqlite", logger: logs.logger())
        #expect(try store.load(group: "g") == nil)
        let files = try FileManager.default.contentsOfDirectory(atPath: path)
        #expect(files.contains { $0.hasPrefix("state.sqlite.corrupt-") })
        #expect(logs.entries.contains { $0.level == .critical && $0.message.contains("moved aside") })
    }

    @Test("a corrupt file keeps its queued findings: the readable outbox rows move into the new file")
    func corruptFileSalvagesOutbox() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = path + "/state.sqlite"
        do {
            let store = try StateStore(path: file, logger: Logger(label: "test"))
            var plan = NotificationPlan()
            plan.outgoing = ["a", "b", "c"].map {
                OutgoingFinding(sink: "ops", id: $0, alertKey: "g/\($0)", alertName: "A", kind: .firing, body: Array("{\"id\":\"\($0)\"}".utf8))
            }
            try store.save(plan: plan)
            try store.database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try store.database.close()
        }
        // Break the outbox's unique index: the table itself stays readable, the file fails its integrity check.
        let (page, pageSize) = try DatabaseQueue(path: file).read { db in
            (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_outbox_1'") ?? 0,
             try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.seek(toOffset: UInt64((page - 1) * pageSize + 8))
        try handle.write(contentsOf: Data(repeating: 0xff, count: 64))
        try handle.close()

        let logs = CapturedLogs()
        let store = try StateStore(path: file, logger: logs.logger())
        #expect(logs.entries.contains { $0.level == .critical && $0.message.contains("moved aside") && $0.metadata["outbox.salvaged"].map { "\($0)" } == "3" },
                "\(logs.entries.map(\.message))")
        #expect(try store.due(at: Date().addingTimeInterval(60), sink: "ops").map(\.findingID) == ["a", "b", "c"])
    }

    @Test("a state file that cannot be opened but is not corrupt stays where it is; the error names the path and the reason")
    func unopenableIsNotMovedAside() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A directory where the file should be: SQLite cannot open it, and nothing about it is corrupt.
        try FileManager.default.createDirectory(atPath: path + "/state.sqlite", withIntermediateDirectories: false)
        #expect(throws: StateStoreError.self) { try StateStore(path: path + "/state.sqlite", logger: Logger(label: "test")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: path) == ["state.sqlite"])
    }

    @Test("an unusable state directory is refused with the path and the system's reason, not a Foundation dump")
    func unusableDirectory() throws {
        let path = try directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: path + "/file"))
        do {
            _ = try StateStore(path: path + "/file/state/state.sqlite", logger: Logger(label: "test"))
            Issue.record("a state directory under a regular file was accepted")
        } catch {
            let text = "\(error)"
            #expect(text == "state directory \(path)/file/state: \(path)/file is not a directory", "\(text)")
            #expect(!text.contains("NSCocoaErrorDomain"))
        }
    }
}
