import AlertEngine
import AlertModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import MetricModel
@testable import MeshWatchdCore
import Testing

/// The state store's per-cycle statements are compiled once per connection. Compiling was 11 %
/// of a 7-rule cycle's instructions with `execute(sql:)`, and 9 % again once cached, because each
/// `DatabaseQueue.read` set `PRAGMA query_only`, which expires every prepared statement.
@Suite("State store statements: compiled once, not recompiled by reads")
struct StateStatementTests {
    @Test("a cycle's writes and reads reuse their compiled statements (SQLite's run and reprepare counters)")
    func compiledOnce() throws {
        let path = try DaemonTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try StateStore(path: path + "/state.sqlite", logger: Logger(label: "test"))
        let cycles = 5
        for cycle in 0..<cycles {
            let instance = AlertInstance(labels: Labels(["alertname": "IstioHighErrorRate", "destination_workload": "reviews"]),
                                         annotations: Labels(["summary": "reviews fails"]), state: .pending, value: 0.2 + Double(cycle),
                                         activeAt: Date(timeIntervalSince1970: 1_750_000_000))
            try store.save(group: "g", snapshot: EngineSnapshot(takenAt: Date(timeIntervalSince1970: 1_750_000_000 + Double(cycle)),
                                                                rules: ["IstioHighErrorRate": [instance]]))
            #expect(store.queuedCount == 0)
            #expect(try store.due(at: Date(), sink: "webhook").isEmpty)
        }
        try store.database.writeWithoutTransaction { db in
            for sql in ["INSERT OR REPLACE INTO group_evaluation VALUES (?, ?)", "DELETE FROM alert_instance WHERE group_name = ?",
                        "INSERT INTO alert_instance VALUES (?, ?, ?, ?)",
                        "SELECT COUNT(*) FROM outbox"] {
                let statement = try db.cachedStatement(sql: sql).sqliteStatement
                #expect(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_RUN, 0) == Int32(cycles), "\(sql): run")
                #expect(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 0) == 0, "\(sql): recompiled")
            }
        }
        // And what was written reads back.
        let loaded = try store.load(group: "g")
        #expect(loaded?.takenAt == Date(timeIntervalSince1970: 1_750_000_000 + Double(cycles - 1)))
        #expect(loaded?.rules["IstioHighErrorRate"]?.map(\.value) == [0.2 + Double(cycles - 1)])
    }
}
