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
                "state.path": "\(path)", "state.moved_to": "\(aside)", "error": "\(error)", "outbox.salvaged": .stringConvertible(salvaged),
            ])
        } catch let error as DatabaseError {
            throw StateStoreError(path: path, reason: "\(error.message ?? "\(error.resultCode)") (SQLite \(error.resultCode))")
        }
    }

    /// Opens the state to read it only (`report`, `ledger`): no migration, no permission change,
    /// and a file SQLite calls corrupt is an error, never moved aside under the daemon's feet.
    init(readingOnly path: String) throws {
        self.path = path
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
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
        migrator.registerMigration("v7-history") { db in
            // What the weekly report reads back: every firing and resolve, and every finding
            // queued for a sink, kept 35 days (two weeks compared, with room).
            try db.execute(sql: """
                CREATE TABLE alert_history (
                    at DOUBLE NOT NULL,
                    group_name TEXT NOT NULL,
                    alert TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    labels BLOB NOT NULL,
                    UNIQUE (group_name, fingerprint, kind, at)
                );
                CREATE INDEX alert_history_at ON alert_history (at);
                CREATE TABLE finding_history (
                    at DOUBLE NOT NULL,
                    sink TEXT NOT NULL,
                    finding_id TEXT NOT NULL,
                    alert TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    UNIQUE (sink, finding_id)
                );
                CREATE INDEX finding_history_at ON finding_history (at);
                """)
        }
        migrator.registerMigration("v8-console") { db in
            // What the status page shows of a finding after it left the outbox (the document, and
            // per sink what became of it), and the operator's silences and acknowledgements.
            try db.execute(sql: """
                CREATE TABLE finding_document (
                    finding_id TEXT PRIMARY KEY NOT NULL,
                    alert_key TEXT NOT NULL,
                    alert TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    at DOUBLE NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE INDEX finding_document_at ON finding_document (at);
                CREATE INDEX finding_document_alert ON finding_document (alert_key);
                ALTER TABLE finding_history ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
                ALTER TABLE finding_history ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE finding_history ADD COLUMN detail TEXT;
                ALTER TABLE finding_history ADD COLUMN updated_at DOUBLE;
                CREATE TABLE silence (
                    id TEXT PRIMARY KEY NOT NULL,
                    ends_at DOUBLE NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE TABLE acknowledgement (
                    alert_key TEXT PRIMARY KEY NOT NULL,
                    body BLOB NOT NULL
                );
                """)
        }
        try migrator.migrate(database)
        return database
    }

    /// The thread SQLite's blocking calls run on, so they never hold one of Swift's
    /// cooperative threads (two on a small machine) while the disk is slow. A thread of its
    /// own for the store's life: a dispatch queue's worker thread retires after a few idle
    /// seconds, so a queue used once per cycle started (and ended) a thread every cycle.
    private let thread = WorkerThread(name: "meshwatchd-state")

    /// Runs blocking store work on the store's own thread.
    func perform<T: Sendable>(_ work: @escaping @Sendable (StateStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            thread.run { continuation.resume(with: Result { try work(self) }) }
        }
    }

    /// Replaces one group's instances with `snapshot` and applies a notification plan in the
    /// same transaction: a state change, the findings it causes and what was sent are saved
    /// together or not at all.
    func save(group: String, snapshot: EngineSnapshot, plan: NotificationPlan = NotificationPlan(),
              delays: [String: Duration] = [:], diagnoses: [DiagnosisRequest] = [], transitions: [AlertTransition] = []) throws {
        try database.write { db in
            try db.execute(cached: "DELETE FROM alert_instance WHERE group_name = ?", arguments: [group])
            // Each instance's state written as it is made: a group of 10,000 pending alerts held
            // all its rows at once before (megabytes the allocator then kept).
            for (identity, instances) in snapshot.rules {
                for instance in instances {
                    try db.execute(cached: "INSERT INTO alert_instance VALUES (?, ?, ?, ?)",
                                   arguments: [group, identity, String(instance.fingerprint, radix: 16), Data(try instance.stateJSON())])
                }
            }
            try db.execute(cached: "INSERT OR REPLACE INTO group_evaluation VALUES (?, ?)",
                           arguments: [group, snapshot.takenAt.timeIntervalSince1970])
            try Self.apply(plan, delays: delays, db: db)
            try Self.hold(diagnoses, db: db)
            try Self.remember(transitions, db: db)
        }
    }

    /// Applies a plan that belongs to no group's state (the daemon's own alerts).
    func save(plan: NotificationPlan, delays: [String: Duration] = [:], transitions: [AlertTransition] = []) throws {
        guard !plan.isEmpty || !transitions.isEmpty else { return }
        try database.write { db in
            try Self.apply(plan, delays: delays, db: db)
            try Self.remember(transitions, db: db)
        }
    }

    /// The stored snapshot of one group, or nil if it was never evaluated.
    func load(group: String) throws -> EngineSnapshot? {
        try read { db in
            guard let evaluatedAt = try Double.fetchOne(db, cached: "SELECT evaluated_at FROM group_evaluation WHERE group_name = ?",
                                                        arguments: [group]) else { return nil }
            var rules: [String: [AlertInstance]] = [:]
            let decoder = JSONDecoder()
            for row in try Row.fetchAll(db, cached: "SELECT rule_identity, instance FROM alert_instance WHERE group_name = ?",
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
