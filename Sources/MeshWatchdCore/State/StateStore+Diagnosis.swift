import Foundation
import GRDB
import Incidents
import Remediation

/// Firing findings held for their runbook's evidence.
extension StateStore {
    /// A firing finding whose runbook must run first: held in the outbox until its evidence
    /// is attached or its deadline passes (then it goes out without, rather than never).
    struct DiagnosisRequest: Sendable {
        var findingID: String
        var alertKey: String
        var alert: String
        var labels: [String: String]
        var activeAt: Date
        var evaluatedAt: Date
        var deadline: Date
        /// The rule that raised the alert (remediation belongs to rules that opted in).
        var rule: RuleReference?
    }

    static func hold(_ requests: [DiagnosisRequest], db: Database) throws {
        let encoder = JSONEncoder()
        for request in requests {
            try db.execute(cached: """
                INSERT OR IGNORE INTO diagnosis (finding_id, alert, labels, active_at, evaluated_at, deadline, alert_key,
                                                 rule_file, rule_group, rule_name, rule_built_in)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                request.findingID, request.alert, try encoder.encode(request.labels), request.activeAt.timeIntervalSince1970,
                request.evaluatedAt.timeIntervalSince1970, request.deadline.timeIntervalSince1970, request.alertKey,
                request.rule?.file, request.rule?.group, request.rule?.name, request.rule?.builtIn == true ? 1 : 0])
            // released_at keeps when it would have gone out (a Slack group wait), for after the evidence.
            try db.execute(cached: """
                UPDATE outbox SET released_at = next_attempt_at, next_attempt_at = MAX(next_attempt_at, ?)
                WHERE finding_id = ? AND attempts = 0
                """,
                           arguments: [request.deadline.timeIntervalSince1970, request.findingID])
        }
    }

    /// Runbooks still to run, oldest first.
    func pendingDiagnoses() throws -> [DiagnosisRequest] {
        try read { db in
            let decoder = JSONDecoder()
            return try Row.fetchAll(db, cached: "SELECT * FROM diagnosis ORDER BY evaluated_at").map { row in
                let labels: Data = row["labels"]
                return DiagnosisRequest(findingID: row["finding_id"], alertKey: row["alert_key"], alert: row["alert"],
                                        labels: (try? decoder.decode([String: String].self, from: labels)) ?? [:],
                                        activeAt: Date(timeIntervalSince1970: row["active_at"]),
                                        evaluatedAt: Date(timeIntervalSince1970: row["evaluated_at"]),
                                        deadline: Date(timeIntervalSince1970: row["deadline"]),
                                        rule: (row["rule_name"] as String?).map { name in
                                            RuleReference(file: row["rule_file"] ?? "", group: row["rule_group"] ?? "", name: name,
                                                          builtIn: (row["rule_built_in"] as Int? ?? 0) != 0)
                                        })
            }
        }
    }

    /// Puts the evidence into every queued copy of the finding and releases them at once;
    /// `update` rewrites one finding. Copies already delivered (the deadline passed) are gone.
    func attachEvidence(findingID: String, update: (inout Finding) -> Void) throws {
        try database.write { db in
            for row in try Row.fetchAll(db, cached: "SELECT id, body FROM outbox WHERE finding_id = ?", arguments: [findingID]) {
                let body: Data = row["body"]
                var finding = try Finding.decode(Array(body))
                update(&finding)
                try db.execute(cached: """
                    UPDATE outbox SET body = ?, next_attempt_at = MIN(next_attempt_at, MAX(COALESCE(released_at, 0), ?)) WHERE id = ?
                    """, arguments: [Data(try finding.encoded()), Date().timeIntervalSince1970, row["id"] as Int64])
            }
            if let body = try Data.fetchOne(db, cached: "SELECT body FROM finding_document WHERE finding_id = ?", arguments: [findingID]) {
                var finding = try Finding.decode(Array(body))
                update(&finding)
                try db.execute(cached: "UPDATE finding_document SET body = ? WHERE finding_id = ?",
                               arguments: [Data(try finding.encoded()), findingID])
            }
            try db.execute(cached: "DELETE FROM diagnosis WHERE finding_id = ?", arguments: [findingID])
        }
    }
}
