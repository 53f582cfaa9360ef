import AlertEngine
import Foundation
import Logging
import MeshFixtures
@testable import MeshWatchd
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
}
