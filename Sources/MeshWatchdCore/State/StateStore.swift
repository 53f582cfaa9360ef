import AlertEngine
import Foundation
import GRDB
import Incidents
import Remediation
import Logging

/// The daemon's state in one SQLite file (WAL mode): alert instances by rule, with the time
/// of the last evaluation they reflect, and the outbox. Every write is a transaction. A file that cannot be opened
/// or fails SQLite's integrity check is moved aside and the daemon starts clean, loudly.
final class StateStore: Sendable {
    let path: String
    let database: DatabaseQueue

    init(path: String, logger: Logger) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try Self.makeDirectory(directory)
        // 0700 and 0600 whatever the umask: the ledger and the findings are nobody else's to read.
        chmod(directory, 0o700)
        defer { for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o600) } }
        do {
            database = try Self.open(path)
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode) {
            // Only a file SQLite calls corrupt is moved aside; one that is merely unwritable
            // (permissions, a read-only or full disk) is a problem to fix, not state to drop.
            let aside = path + ".corrupt-" + String(Int(Date().timeIntervalSince1970))
            try? FileManager.default.moveItem(atPath: path, toPath: aside)
            for suffix in ["-wal", "-shm"] { try? FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix) }
            database = try Self.open(path)
            let salvaged = Self.salvageOutbox(from: aside, into: database)
            logger.critical("state file corrupt: moved aside, starting with empty state (alert clocks reset); queued findings salvaged", metadata: [
                "state.path": "\(path)", "state.moved_to": "\(aside)", "error": "\(error)", "outbox.salvaged": "\(salvaged)",
            ])
        } catch let error as DatabaseError {
            throw StateStoreError(path: path, reason: "\(error.message ?? "\(error.resultCode)") (SQLite \(error.resultCode))")
        }
    }

    /// Creates the state directory (and its parents) with the system's reason when it cannot.
    static func makeDirectory(_ directory: String) throws {
        var partial = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            partial += "/" + component
            var info = stat()
            if stat(partial, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw StateStoreError(path: directory, reason: "\(partial) is not a directory")
                }
                continue
            }
            guard mkdir(partial, 0o700) == 0 || errno == EEXIST else {
                throw StateStoreError(path: directory, reason: "cannot create \(partial): \(String(cString: strerror(errno)))")
            }
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw StateStoreError(path: directory, reason: "cannot write there: \(String(cString: strerror(errno)))")
        }
    }

    /// One finding queued for one sink (a finding already queued for it is left as it is).
    static let insertOutbox = """
        INSERT OR IGNORE INTO outbox (sink, finding_id, alert_key, body, queued_at, next_attempt_at, alert_name, kind)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Copies the outbox rows that can still be read from a corrupt file into the new one:
    /// queued findings are what a corrupt file must not take with it.
    static func salvageOutbox(from file: String, into database: DatabaseQueue) -> Int {
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        guard let old = try? DatabaseQueue(path: file, configuration: configuration) else { return 0 }
        var rows: [Row] = []
        _ = try? old.read { db in
            let cursor = try Row.fetchCursor(db, sql: "SELECT sink, finding_id, alert_key, body, queued_at, next_attempt_at, alert_name, kind FROM outbox ORDER BY id")
            while let row = try? cursor.next() { rows.append(row.copy()) }
        }
        try? old.close()
        var salvaged = 0
        for row in rows {
            let arguments = StatementArguments(row.databaseValues)
            if (try? database.write({ try $0.execute(sql: insertOutbox, arguments: arguments) })) != nil { salvaged += 1 }
        }
        return salvaged
    }

    private static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(5)
        // WAL with synchronous=NORMAL: a commit survives the process being killed (kill -9,
        // OOM) without an fsync per transaction; only a power loss can drop the last ones.
        // With the default rollback journal, each cycle's commits cost an fsync each.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let database = try DatabaseQueue(path: path, configuration: configuration)
        let check = try database.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        guard check == "ok" else { throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: check) }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE alert_instance (
                    group_name TEXT NOT NULL,
                    rule_identity TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    instance BLOB NOT NULL,
                    PRIMARY KEY (group_name, rule_identity, fingerprint)
                );
                CREATE TABLE group_evaluation (
                    group_name TEXT PRIMARY KEY NOT NULL,
                    evaluated_at DOUBLE NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-outbox") { db in
            try db.execute(sql: """
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    sink TEXT NOT NULL,
                    finding_id TEXT NOT NULL,
                    alert_key TEXT NOT NULL,
                    body BLOB NOT NULL,
                    queued_at DOUBLE NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at DOUBLE NOT NULL,
                    UNIQUE (sink, finding_id)
                );
                """)
        }
        migrator.registerMigration("v3-notifications") { db in
            try db.execute(sql: """
                ALTER TABLE outbox ADD COLUMN alert_name TEXT NOT NULL DEFAULT '';
                ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT '';
                CREATE TABLE notification (
                    alert_key TEXT PRIMARY KEY NOT NULL,
                    record BLOB NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4-diagnosis") { db in
            try db.execute(sql: """
                CREATE TABLE diagnosis (
                    finding_id TEXT PRIMARY KEY NOT NULL,
                    alert TEXT NOT NULL,
                    labels BLOB NOT NULL,
                    active_at DOUBLE NOT NULL,
                    evaluated_at DOUBLE NOT NULL,
                    deadline DOUBLE NOT NULL
                );
                ALTER TABLE outbox ADD COLUMN released_at DOUBLE;
                """)
        }
        migrator.registerMigration("v5-ledger") { db in
            try db.execute(sql: """
                CREATE TABLE ledger (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at DOUBLE NOT NULL,
                    decision BLOB NOT NULL,
                    outcome TEXT NOT NULL,
                    workload TEXT NOT NULL,
                    alert_key TEXT NOT NULL,
                    verify_until DOUBLE,
                    verified TEXT
                );
                CREATE INDEX ledger_at ON ledger (at);
                ALTER TABLE diagnosis ADD COLUMN alert_key TEXT NOT NULL DEFAULT '';
                """)
        }
        migrator.registerMigration("v6-ledger-reservations") { db in
            // A decision reserves its workload before anything else (state 'open'); the write it
            // is about to send is noted (resource_version, annotation) so a crash can be settled.
            try db.execute(sql: """
                ALTER TABLE ledger ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
                ALTER TABLE ledger ADD COLUMN resource_version TEXT;
                ALTER TABLE ledger ADD COLUMN annotation TEXT;
                CREATE INDEX ledger_open ON ledger (state, workload);
                ALTER TABLE diagnosis ADD COLUMN rule_file TEXT;
                ALTER TABLE diagnosis ADD COLUMN rule_group TEXT;
                ALTER TABLE diagnosis ADD COLUMN rule_name TEXT;
                ALTER TABLE diagnosis ADD COLUMN rule_built_in INTEGER NOT NULL DEFAULT 0;
                """)
        }
        try migrator.migrate(database)
        return database
    }

    /// The thread SQLite's blocking calls run on, so they never hold one of Swift's
    /// cooperative threads (two on a small machine) while the disk is slow.
    private let thread = DispatchQueue(label: "meshwatchd.state")

    /// Runs blocking store work on the store's own thread.
    func perform<T: Sendable>(_ work: @escaping @Sendable (StateStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            thread.async { continuation.resume(with: Result { try work(self) }) }
        }
    }

    /// A finding waiting for one sink.
    struct Queued: Sendable {
        var id: Int64
        var findingID: String
        var sink: String
        var alertName: String
        var kind: String
        var body: [UInt8]
        var queuedAt: Date
        var attempts: Int
    }

    /// Replaces one group's instances with `snapshot` and applies a notification plan in the
    /// same transaction: a state change, the findings it causes and what was sent are saved
    /// together or not at all.
    func save(group: String, snapshot: EngineSnapshot, plan: NotificationPlan = NotificationPlan(),
              delays: [String: Duration] = [:], diagnoses: [DiagnosisRequest] = []) throws {
        let encoder = JSONEncoder()
        let rows = try snapshot.rules.flatMap { identity, instances in
            try instances.map { (identity, String($0.fingerprint, radix: 16), try encoder.encode($0)) }
        }
        try database.write { db in
            try db.execute(sql: "DELETE FROM alert_instance WHERE group_name = ?", arguments: [group])
            for (identity, fingerprint, data) in rows {
                try db.execute(sql: "INSERT INTO alert_instance VALUES (?, ?, ?, ?)", arguments: [group, identity, fingerprint, data])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO group_evaluation VALUES (?, ?)",
                           arguments: [group, snapshot.takenAt.timeIntervalSince1970])
            try Self.apply(plan, delays: delays, db: db)
            try Self.hold(diagnoses, db: db)
        }
    }

    /// Applies a plan that belongs to no group's state (the daemon's own alerts).
    func save(plan: NotificationPlan, delays: [String: Duration] = [:]) throws {
        guard !plan.isEmpty else { return }
        try database.write { try Self.apply(plan, delays: delays, db: $0) }
    }

    /// Queues the plan's findings (a sink with a group wait holds them that long) and saves its
    /// records. A reminder replaces older undelivered reminders of the same alert for the same
    /// sink: after an outage the receiver gets the latest, not a backlog.
    private static func apply(_ plan: NotificationPlan, delays: [String: Duration], db: Database) throws {
        let now = Date().timeIntervalSince1970
        for finding in plan.outgoing {
            if finding.kind == .reminder {
                try db.execute(sql: "DELETE FROM outbox WHERE sink = ? AND alert_key = ? AND kind = 'reminder'",
                               arguments: [finding.sink, finding.alertKey])
            }
            let hold = finding.kind == .firing || finding.kind == .resolved ? (delays[finding.sink]?.seconds ?? 0) : 0
            try db.execute(sql: insertOutbox, arguments: [finding.sink, finding.id, finding.alertKey, Data(finding.body), now, now + hold,
                                 finding.alertName, finding.kind.rawValue])
        }
        let encoder = JSONEncoder()
        for (key, record) in plan.upserts {
            try db.execute(sql: "INSERT OR REPLACE INTO notification VALUES (?, ?)", arguments: [key, try encoder.encode(record)])
        }
        for key in plan.removals {
            try db.execute(sql: "DELETE FROM notification WHERE alert_key = ?", arguments: [key])
        }
    }

    /// Every alert's notification record, by alert key.
    func notificationRecords() throws -> [String: NotificationRecord] {
        try database.read { db in
            let decoder = JSONDecoder()
            var records: [String: NotificationRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT alert_key, record FROM notification") {
                let data: Data = row["record"]
                records[row["alert_key"]] = try decoder.decode(NotificationRecord.self, from: data)
            }
            return records
        }
    }

    private static let queuedColumns = "id, finding_id, sink, alert_name, kind, body, queued_at, attempts"

    private static func queued(_ row: Row) -> Queued {
        let body: Data = row["body"]
        return Queued(id: row["id"], findingID: row["finding_id"], sink: row["sink"], alertName: row["alert_name"], kind: row["kind"],
                      body: Array(body), queuedAt: Date(timeIntervalSince1970: row["queued_at"]), attempts: row["attempts"])
    }

    /// Findings due now for `sink`: per alert only the oldest, so an alert's firing always
    /// reaches a sink before its resolve.
    func due(at time: Date, sink: String, limit: Int = 100) throws -> [Queued] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.queuedColumns) FROM outbox
                WHERE id IN (SELECT MIN(id) FROM outbox WHERE sink = ? GROUP BY alert_key) AND next_attempt_at <= ?
                ORDER BY id LIMIT ?
                """, arguments: [sink, time.timeIntervalSince1970, limit]).map(Self.queued)
        }
    }

    /// The companions of a due finding for a grouping sink: the other alerts' oldest findings
    /// for the same sink, alert name and kind that were never attempted (still in their group
    /// wait) or are due as well.
    func companions(of head: Queued, at time: Date, limit: Int) throws -> [Queued] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.queuedColumns) FROM outbox
                WHERE id IN (SELECT MIN(id) FROM outbox WHERE sink = ? GROUP BY alert_key)
                  AND alert_name = ? AND kind = ? AND id != ? AND (attempts = 0 OR next_attempt_at <= ?)
                ORDER BY id LIMIT ?
                """, arguments: [head.sink, head.alertName, head.kind, head.id, time.timeIntervalSince1970, limit]).map(Self.queued)
        }
    }

    /// Queued findings per sink.
    func depthBySink() throws -> [String: Int] {
        try database.read { db in
            var depth: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT sink, COUNT(*) AS n FROM outbox GROUP BY sink") { depth[row["sink"]] = row["n"] }
            return depth
        }
    }

    /// Removes what is queued for sinks not in `names` and older than `age`; returns how many per sink.
    func expire(sinksOtherThan names: Set<String>, olderThan cutoff: Date) throws -> [String: Int] {
        try database.write { db in
            var removed: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, sink FROM outbox WHERE queued_at < ?", arguments: [cutoff.timeIntervalSince1970]) {
                let sink: String = row["sink"]
                guard !names.contains(sink) else { continue }
                try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [row["id"] as Int64])
                removed[sink, default: 0] += 1
            }
            return removed
        }
    }

    /// When the next finding queued for `sink` is due, or nil when none is queued.
    func nextDue(sink: String) throws -> Date? {
        try database.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_attempt_at) FROM outbox WHERE sink = ?", arguments: [sink])
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    func remove(_ ids: [Int64]) throws {
        try database.write { db in
            for id in ids { try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
        }
    }

    func postpone(_ ids: [Int64], attempts: Int, until time: Date) throws {
        try database.write { db in
            for id in ids {
                try db.execute(sql: "UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?",
                               arguments: [attempts, time.timeIntervalSince1970, id])
            }
        }
    }

    var queuedCount: Int {
        (try? database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outbox") }) ?? 0
    }

    /// The stored snapshot of one group, or nil if it was never evaluated.
    func load(group: String) throws -> EngineSnapshot? {
        try database.read { db in
            guard let evaluatedAt = try Double.fetchOne(db, sql: "SELECT evaluated_at FROM group_evaluation WHERE group_name = ?",
                                                        arguments: [group]) else { return nil }
            var rules: [String: [AlertInstance]] = [:]
            let decoder = JSONDecoder()
            for row in try Row.fetchAll(db, sql: "SELECT rule_identity, instance FROM alert_instance WHERE group_name = ?",
                                        arguments: [group]) {
                let identity: String = row["rule_identity"]
                let data: Data = row["instance"]
                rules[identity, default: []].append(try decoder.decode(AlertInstance.self, from: data))
            }
            return EngineSnapshot(takenAt: Date(timeIntervalSince1970: evaluatedAt), rules: rules)
        }
    }

}

/// The state store cannot be used: which path, and the system's or SQLite's reason.
struct StateStoreError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "state directory \(path): \(reason)" }
}
