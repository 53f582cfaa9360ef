import AlertEngine
import Foundation
import GRDB
import Incidents

/// The outbox and the notification records: findings queued per sink (saved with the state
/// change that caused them), their delivery bookkeeping, and salvage from a corrupt file.
extension StateStore {
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
            if (try? database.write({ try $0.execute(cached: insertOutbox, arguments: arguments) })) != nil { salvaged += 1 }
        }
        return salvaged
    }

    typealias Queued = QueuedFinding

    /// Queues the plan's findings (a sink with a group wait holds them that long) and saves its
    /// records. A reminder replaces older undelivered reminders of the same alert for the same
    /// sink: after an outage the receiver gets the latest, not a backlog.
    static func apply(_ plan: NotificationPlan, delays: [String: Duration], db: Database) throws {
        let now = Date().timeIntervalSince1970
        for finding in plan.outgoing {
            if finding.kind == .reminder {
                try db.execute(cached: "DELETE FROM outbox WHERE sink = ? AND alert_key = ? AND kind = 'reminder'",
                               arguments: [finding.sink, finding.alertKey])
            }
            let hold = finding.kind == .firing || finding.kind == .resolved ? (delays[finding.sink]?.seconds ?? 0) : 0
            try db.execute(cached: insertOutbox, arguments: [finding.sink, finding.id, finding.alertKey, Data(finding.body), now, now + hold,
                                 finding.alertName, finding.kind.rawValue])
        }
        try remember(plan.outgoing, at: now, db: db)
        let encoder = JSONEncoder()
        for (key, record) in plan.upserts {
            try db.execute(cached: "INSERT OR REPLACE INTO notification VALUES (?, ?)", arguments: [key, try encoder.encode(record)])
        }
        for key in plan.removals {
            try db.execute(cached: "DELETE FROM notification WHERE alert_key = ?", arguments: [key])
            // An acknowledgement lasts as long as its alert's episode.
            try db.execute(cached: "DELETE FROM acknowledgement WHERE alert_key = ?", arguments: [key])
        }
    }

    /// Every alert's notification record, by alert key.
    func notificationRecords() throws -> [String: NotificationRecord] {
        try read { db in
            let decoder = JSONDecoder()
            var records: [String: NotificationRecord] = [:]
            for row in try Row.fetchAll(db, cached: "SELECT alert_key, record FROM notification") {
                let data: Data = row["record"]
                records[row["alert_key"]] = try decoder.decode(NotificationRecord.self, from: data)
            }
            return records
        }
    }

    static let queuedColumns = "id, finding_id, sink, alert_name, kind, body, queued_at, attempts"

    static func queued(_ row: Row) -> Queued {
        let body: Data = row["body"]
        return Queued(id: row["id"], findingID: row["finding_id"], sink: row["sink"], alertName: row["alert_name"], kind: row["kind"],
                      body: Array(body), queuedAt: Date(timeIntervalSince1970: row["queued_at"]), attempts: row["attempts"])
    }

    /// Findings due now for `sink`: per alert only the oldest, so an alert's firing always
    /// reaches a sink before its resolve.
    func due(at time: Date, sink: String, limit: Int = 100) throws -> [Queued] {
        try read { db in
            try Row.fetchAll(db, cached: """
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
        try read { db in
            try Row.fetchAll(db, cached: """
                SELECT \(Self.queuedColumns) FROM outbox
                WHERE id IN (SELECT MIN(id) FROM outbox WHERE sink = ? GROUP BY alert_key)
                  AND alert_name = ? AND kind = ? AND id != ? AND (attempts = 0 OR next_attempt_at <= ?)
                ORDER BY id LIMIT ?
                """, arguments: [head.sink, head.alertName, head.kind, head.id, time.timeIntervalSince1970, limit]).map(Self.queued)
        }
    }

    /// Queued findings per sink.
    func depthBySink() throws -> [String: Int] {
        try read { db in
            var depth: [String: Int] = [:]
            for row in try Row.fetchAll(db, cached: "SELECT sink, COUNT(*) AS n FROM outbox GROUP BY sink") { depth[row["sink"]] = row["n"] }
            return depth
        }
    }

    /// Removes what is queued for sinks not in `names` and older than `age`; returns how many per sink.
    func expire(sinksOtherThan names: Set<String>, olderThan cutoff: Date) throws -> [String: Int] {
        try database.write { db in
            var removed: [String: Int] = [:]
            for row in try Row.fetchAll(db, cached: "SELECT id, sink FROM outbox WHERE queued_at < ?", arguments: [cutoff.timeIntervalSince1970]) {
                let sink: String = row["sink"]
                guard !names.contains(sink) else { continue }
                try db.execute(cached: "DELETE FROM outbox WHERE id = ?", arguments: [row["id"] as Int64])
                removed[sink, default: 0] += 1
            }
            return removed
        }
    }

    /// When the next finding queued for `sink` is due, or nil when none is queued.
    func nextDue(sink: String) throws -> Date? {
        try read { db in
            // Only each alert's oldest finding can go next (a resolve waits behind its firing), so only
            // those say when the sink has work: a queued-behind row due now must not wake it early.
            try Double.fetchOne(db, cached: """
                SELECT MIN(next_attempt_at) FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox WHERE sink = ? GROUP BY alert_key)
                """, arguments: [sink])
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    func remove(_ ids: [Int64]) throws {
        try database.write { db in
            for id in ids { try db.execute(cached: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
        }
    }

    func postpone(_ ids: [Int64], attempts: Int, until time: Date) throws {
        try database.write { db in
            for id in ids {
                try db.execute(cached: "UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?",
                               arguments: [attempts, time.timeIntervalSince1970, id])
            }
        }
    }

    var queuedCount: Int {
        (try? read { try Int.fetchOne($0, cached: "SELECT COUNT(*) FROM outbox") }) ?? 0
    }
}
