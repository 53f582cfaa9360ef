import Foundation
import GRDB
import Incidents

/// What the status page reads (findings with their deliveries) and the operator's state
/// (silences, acknowledgements).
extension StateStore {
    /// One finding as it was queued (evidence attached when the runbook finished), with what
    /// became of it per sink.
    struct StoredFinding: Sendable {
        var finding: Finding
        var alertKey: String
        var queuedAt: Date
        var deliveries: [Delivery]
    }

    struct Delivery: Sendable, Equatable {
        var sink: String
        /// queued, delivered, retrying or failed.
        var state: String
        var attempts: Int
        var detail: String?
        var updatedAt: Date?
    }

    /// Notes a delivery attempt's outcome for the page (the outbox row itself is removed or postponed).
    func noteDelivery(sink: String, findingIDs: [String], state: String, attempts: Int, detail: String?, at time: Date) throws {
        try database.write { db in
            for id in findingIDs {
                try db.execute(cached: """
                    UPDATE finding_history SET state = ?, attempts = ?, detail = ?, updated_at = ? WHERE sink = ? AND finding_id = ?
                    """, arguments: [state, attempts, detail.map { String($0.prefix(500)) }, time.timeIntervalSince1970, sink, id])
            }
        }
    }

    /// The newest findings (at most `limit`), optionally of one alert.
    func findings(alertKey: String? = nil, limit: Int = 50) throws -> [StoredFinding] {
        try read { db in
            let rows = alertKey == nil
                ? try Row.fetchAll(db, cached: "SELECT * FROM finding_document ORDER BY at DESC, rowid DESC LIMIT ?", arguments: [limit])
                : try Row.fetchAll(db, cached: "SELECT * FROM finding_document WHERE alert_key = ? ORDER BY at DESC, rowid DESC LIMIT ?",
                                   arguments: [alertKey, limit])
            return try rows.compactMap { try Self.storedFinding($0, db: db) }
        }
    }

    func finding(id: String) throws -> StoredFinding? {
        try read { db in
            try Row.fetchOne(db, cached: "SELECT * FROM finding_document WHERE finding_id = ?", arguments: [id]).flatMap { try Self.storedFinding($0, db: db) }
        }
    }

    private static func storedFinding(_ row: Row, db: Database) throws -> StoredFinding? {
        let body: Data = row["body"]
        guard let finding = try? Finding.decode(Array(body)) else { return nil }
        let id: String = row["finding_id"]
        let deliveries = try Row.fetchAll(db, cached: "SELECT sink, state, attempts, detail, updated_at FROM finding_history WHERE finding_id = ? ORDER BY sink",
                                          arguments: [id]).map { row in
            Delivery(sink: row["sink"], state: row["state"], attempts: row["attempts"], detail: row["detail"],
                     updatedAt: (row["updated_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
        }
        return StoredFinding(finding: finding, alertKey: row["alert_key"], queuedAt: Date(timeIntervalSince1970: row["at"]), deliveries: deliveries)
    }

    // MARK: - Silences and acknowledgements

    /// Expired silences are kept this long to be shown, as Alertmanager keeps them (5 days).
    static let silenceRetention: TimeInterval = 5 * 86400

    func silences() throws -> [Silence] {
        try read { db in
            let decoder = JSONDecoder()
            return try Data.fetchAll(db, cached: "SELECT body FROM silence ORDER BY ends_at DESC").compactMap { try? decoder.decode(Silence.self, from: $0) }
        }
    }

    func save(silence: Silence) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let body = try encoder.encode(silence)
        try database.write { db in
            try db.execute(cached: "INSERT OR REPLACE INTO silence VALUES (?, ?, ?)", arguments: [silence.id, silence.endsAt.timeIntervalSince1970, body])
            try db.execute(cached: "DELETE FROM silence WHERE ends_at < ?", arguments: [Date().timeIntervalSince1970 - Self.silenceRetention])
        }
    }

    func acknowledgements() throws -> [String: Acknowledgement] {
        try read { db in
            let decoder = JSONDecoder()
            var found: [String: Acknowledgement] = [:]
            for row in try Row.fetchAll(db, cached: "SELECT alert_key, body FROM acknowledgement") {
                let body: Data = row["body"]
                if let acknowledgement = try? decoder.decode(Acknowledgement.self, from: body) { found[row["alert_key"]] = acknowledgement }
            }
            return found
        }
    }

    /// Saves the acknowledgement (nil removes it) with the plan that tells the sinks, in one transaction.
    func save(acknowledgement: Acknowledgement?, alertKey: String, plan: NotificationPlan) throws {
        let body = try acknowledgement.map { try JSONEncoder().encode($0) }
        try database.write { db in
            if let body {
                try db.execute(cached: "INSERT OR REPLACE INTO acknowledgement VALUES (?, ?)", arguments: [alertKey, body])
            } else {
                try db.execute(cached: "DELETE FROM acknowledgement WHERE alert_key = ?", arguments: [alertKey])
            }
            try Self.apply(plan, delays: [:], db: db)
        }
    }

    /// Drops acknowledgements of alerts that are no longer firing (no notification record).
    func pruneAcknowledgements() throws {
        try database.write { db in
            try db.execute(cached: "DELETE FROM acknowledgement WHERE alert_key NOT IN (SELECT alert_key FROM notification)")
        }
    }
}
