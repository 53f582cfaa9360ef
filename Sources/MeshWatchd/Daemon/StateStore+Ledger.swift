import Foundation
import GRDB
import Incidents
import Remediation

/// The remediation ledger: every decision, and the verification of taken actions.
extension StateStore {
    /// One ledger row: the decision, and for a taken action its verification.
    struct LedgerEntry: Sendable {
        var id: Int64
        var decision: RemediationDecision
        var verifyUntil: Date?
        /// `recovered` or `not recovered`, once known.
        var verified: String?
    }

    /// Records a decision; a taken action is verified until `verifyUntil`.
    func record(_ decision: RemediationDecision, verifyUntil: Date?) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        try database.write { db in
            try db.execute(sql: "INSERT INTO ledger (at, decision, outcome, workload, alert_key, verify_until) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [decision.at.timeIntervalSince1970, try encoder.encode(decision), decision.outcome.rawValue,
                                       decision.workload, decision.alertKey, verifyUntil?.timeIntervalSince1970])
        }
    }

    /// Ledger entries since `since`, oldest first.
    func ledger(since: Date = .distantPast) throws -> [LedgerEntry] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ledger WHERE at >= ? ORDER BY id", arguments: [since.timeIntervalSince1970]).map { row in
                let data: Data = row["decision"]
                let until: Double? = row["verify_until"]
                return LedgerEntry(id: row["id"], decision: try decoder.decode(RemediationDecision.self, from: data),
                                   verifyUntil: until.map(Date.init(timeIntervalSince1970:)), verified: row["verified"])
            }
        }
    }

    /// What the guards need from the ledger at `now`.
    func ledgerSummary(at now: Date, cooldown: Duration) throws -> LedgerSummary {
        var summary = LedgerSummary()
        let horizon = now.addingTimeInterval(-max(cooldown.seconds, 3600, 7 * 86400))
        for entry in try ledger(since: horizon) where entry.decision.outcome == .taken {
            let decision = entry.decision
            summary.lastTaken[decision.workload] = max(summary.lastTaken[decision.workload] ?? .distantPast, decision.at)
            if now.timeIntervalSince(decision.at) < 3600 { summary.takenInLastHour += 1 }
            summary.actedOn.insert("\(decision.alertKey) \(decision.workload)")
            if entry.verified == nil, let until = entry.verifyUntil, until > now { summary.inFlight.append(decision.workload) }
        }
        return summary
    }

    /// The alert of a taken action resolved: recovered.
    func markRecovered(alertKeys: [String], at time: Date) throws -> [LedgerEntry] {
        guard !alertKeys.isEmpty else { return [] }
        let pending = try ledger(since: time.addingTimeInterval(-7 * 86400)).filter {
            $0.decision.outcome == .taken && $0.verified == nil && alertKeys.contains($0.decision.alertKey)
        }
        try database.write { db in
            for entry in pending { try db.execute(sql: "UPDATE ledger SET verified = 'recovered' WHERE id = ?", arguments: [entry.id]) }
        }
        return pending
    }

    /// Taken actions whose verification window ended without the alert resolving: not recovered.
    func markUnrecovered(at time: Date) throws -> [LedgerEntry] {
        let overdue = try ledger(since: time.addingTimeInterval(-7 * 86400)).filter {
            $0.decision.outcome == .taken && $0.verified == nil && ($0.verifyUntil.map { $0 <= time } ?? false)
        }
        try database.write { db in
            for entry in overdue { try db.execute(sql: "UPDATE ledger SET verified = 'not recovered' WHERE id = ?", arguments: [entry.id]) }
        }
        return overdue
    }
}
