import Foundation
import GRDB
import Incidents
import Remediation

/// The remediation ledger: every decision, the reservation that serialises decisions on a
/// workload, and the verification of taken actions.
extension StateStore: RemediationLedger {
    /// One ledger row: the decision, and for a taken action its verification.
    struct LedgerEntry: Sendable {
        var id: Int64
        var decision: RemediationDecision
        var open: Bool
        var verifyUntil: Date?
        /// `recovered` or `not recovered`, once known.
        var verified: String?
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }

    func reserve(_ request: ReservationRequest) throws -> ReservationResult {
        // One write transaction: the check and the insert commit together or not at all, and the
        // queue serialises every writer of this process (another process gets SQLITE_BUSY).
        try database.write { db in
            if let holder = try Row.fetchOne(db, cached: "SELECT decision FROM ledger WHERE state = 'open' AND workload = ? LIMIT 1",
                                             arguments: [request.workload.description]) {
                let decision = try? Self.decoder.decode(RemediationDecision.self, from: holder["decision"] as Data)
                return .busy(heldBy: decision.map { "\($0.alert) (\($0.action.rawValue))" } ?? "another decision")
            }
            let horizon = LedgerSummary.horizon(now: request.now, cooldown: request.cooldown)
            let summary = LedgerSummary(facts: try Self.entries(db, since: horizon).map(\.fact), now: request.now)
            let decision = request.provisional
            try db.execute(cached: """
                INSERT INTO ledger (at, decision, outcome, workload, alert_key, state) VALUES (?, ?, ?, ?, ?, 'open')
                """, arguments: [decision.at.timeIntervalSince1970, try Self.encoder.encode(decision), decision.outcome.rawValue,
                                 request.workload.description, decision.alertKey])
            return .reserved(id: db.lastInsertedRowID, summary: summary)
        }
    }

    func noteWrite(reservation: Int64, resourceVersion: String, annotation: String) throws {
        try database.write { db in
            try db.execute(cached: "UPDATE ledger SET resource_version = ?, annotation = ? WHERE id = ?",
                           arguments: [resourceVersion, annotation, reservation])
        }
    }

    func complete(reservation: Int64, with decision: RemediationDecision, verifyUntil: Date?) throws {
        try database.write { db in
            try db.execute(cached: "UPDATE ledger SET decision = ?, outcome = ?, verify_until = ?, state = 'done' WHERE id = ?",
                           arguments: [try Self.encoder.encode(decision), decision.outcome.rawValue, verifyUntil?.timeIntervalSince1970, reservation])
        }
    }

    func record(_ decision: RemediationDecision) throws {
        try database.write { db in
            try db.execute(cached: "INSERT INTO ledger (at, decision, outcome, workload, alert_key, state) VALUES (?, ?, ?, ?, ?, 'done')",
                           arguments: [decision.at.timeIntervalSince1970, try Self.encoder.encode(decision), decision.outcome.rawValue,
                                       decision.workload, decision.alertKey])
        }
    }

    func openReservations() throws -> [OpenReservation] {
        try read { db in
            try Row.fetchAll(db, cached: "SELECT * FROM ledger WHERE state = 'open' ORDER BY id").map { row in
                OpenReservation(id: row["id"], decision: try Self.decoder.decode(RemediationDecision.self, from: row["decision"] as Data),
                                resourceVersion: row["resource_version"], annotation: row["annotation"])
            }
        }
    }

    /// Ledger entries since `since`, oldest first.
    func ledger(since: Date = .distantPast) throws -> [LedgerEntry] {
        try read { db in try Self.entries(db, since: since) }
    }

    private static func entries(_ db: Database, since: Date) throws -> [LedgerEntry] {
        try Row.fetchAll(db, cached: "SELECT * FROM ledger WHERE at >= ? ORDER BY id", arguments: [since.timeIntervalSince1970]).map { row in
            let until: Double? = row["verify_until"]
            return LedgerEntry(id: row["id"], decision: try decoder.decode(RemediationDecision.self, from: row["decision"] as Data),
                               open: (row["state"] as String?) == "open", verifyUntil: until.map(Date.init(timeIntervalSince1970:)),
                               verified: row["verified"])
        }
    }

    /// The alert of a taken (or unknown) action resolved: recovered.
    func markRecovered(alertKeys: [String], at time: Date) throws -> [LedgerEntry] {
        guard !alertKeys.isEmpty else { return [] }
        let pending = try ledger(since: time.addingTimeInterval(-7 * 86400)).filter {
            !$0.open && $0.decision.outcome.countsAsAction && $0.verified == nil && alertKeys.contains($0.decision.alertKey)
        }
        try database.write { db in
            for entry in pending { try db.execute(cached: "UPDATE ledger SET verified = 'recovered' WHERE id = ?", arguments: [entry.id]) }
        }
        return pending
    }

    /// Taken (or unknown) actions whose verification window ended without the alert resolving: not recovered.
    /// When the next taken action's verification window ends (nil: none waits), so the worker
    /// sleeps until then instead of looking every few seconds.
    func nextVerification(at time: Date) throws -> Date? {
        try ledger(since: time.addingTimeInterval(-7 * 86400))
            .filter { !$0.open && $0.decision.outcome.countsAsAction && $0.verified == nil }
            .compactMap(\.verifyUntil).min()
    }

    func markUnrecovered(at time: Date) throws -> [LedgerEntry] {
        let overdue = try ledger(since: time.addingTimeInterval(-7 * 86400)).filter {
            !$0.open && $0.decision.outcome.countsAsAction && $0.verified == nil && ($0.verifyUntil.map { $0 <= time } ?? false)
        }
        try database.write { db in
            for entry in overdue { try db.execute(cached: "UPDATE ledger SET verified = 'not recovered' WHERE id = ?", arguments: [entry.id]) }
        }
        return overdue
    }
}

extension StateStore.LedgerEntry {
    var fact: LedgerFact { LedgerFact(decision: decision, open: open, verifyUntil: verifyUntil, verified: verified) }
}
