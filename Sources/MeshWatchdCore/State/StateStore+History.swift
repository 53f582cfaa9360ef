import AlertEngine
import Foundation
import GRDB
import Incidents

/// The history the weekly report reads: firings and resolves, and the findings queued for each
/// sink, written in the transaction that saves the state they come from, so a crash neither
/// loses nor doubles a row.
extension StateStore {
    /// How long history is kept.
    static let historyRetention: TimeInterval = 35 * 86400

    static func remember(_ transitions: [AlertTransition], db: Database) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for transition in transitions where transition.kind == .firing || transition.kind == .resolved {
            let labels = Dictionary(transition.instance.labels.map { ($0.name, $0.value) }) { first, _ in first }
            try db.execute(cached: "INSERT OR IGNORE INTO alert_history VALUES (?, ?, ?, ?, ?, ?, ?)", arguments: [
                transition.at.timeIntervalSince1970, transition.group, transition.rule, transition.kind.rawValue,
                String(transition.instance.fingerprint, radix: 16), labels["severity"] ?? "none", try encoder.encode(labels),
            ])
        }
        if !transitions.isEmpty {
            let cutoff = Date().timeIntervalSince1970 - historyRetention
            try db.execute(cached: "DELETE FROM alert_history WHERE at < ?", arguments: [cutoff])
            try db.execute(cached: "DELETE FROM finding_history WHERE at < ?", arguments: [cutoff])
            try db.execute(cached: "DELETE FROM finding_document WHERE at < ?", arguments: [cutoff])
        }
    }

    static func remember(_ findings: [OutgoingFinding], at time: Double, db: Database) throws {
        for finding in findings {
            try db.execute(cached: "INSERT OR IGNORE INTO finding_history (at, sink, finding_id, alert, kind) VALUES (?, ?, ?, ?, ?)",
                           arguments: [time, finding.sink, finding.id, finding.alertName, finding.kind.rawValue])
            // The document once per finding (every sink gets the same one), for the status page; not
            // for reminders (Alertmanager's keep-alive alone is one a minute per firing alert).
            if finding.kind != .reminder {
                try db.execute(cached: "INSERT OR IGNORE INTO finding_document VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [finding.id, finding.alertKey, finding.alertName, finding.kind.rawValue, time, Data(finding.body)])
            }
        }
    }

    /// One firing or resolve.
    struct HistoryEntry: Sendable, Equatable {
        var at: Date
        var group: String
        var alert: String
        var kind: String
        var fingerprint: String
        var severity: String
        var labels: [String: String]
    }

    func alertHistory(from start: Date, to end: Date) throws -> [HistoryEntry] {
        try read { db in
            try Row.fetchAll(db, cached: "SELECT * FROM alert_history WHERE at >= ? AND at < ? ORDER BY at",
                             arguments: [start.timeIntervalSince1970, end.timeIntervalSince1970]).map { row in
                let data: Data = row["labels"]
                return HistoryEntry(at: Date(timeIntervalSince1970: row["at"]), group: row["group_name"], alert: row["alert"], kind: row["kind"],
                                    fingerprint: row["fingerprint"], severity: row["severity"],
                                    labels: (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:])
            }
        }
    }

    /// Findings queued per sink and kind in the window.
    func findingCounts(from start: Date, to end: Date) throws -> [(sink: String, kind: String, count: Int)] {
        try read { db in
            try Row.fetchAll(db, cached: "SELECT sink, kind, COUNT(*) AS n FROM finding_history WHERE at >= ? AND at < ? GROUP BY sink, kind ORDER BY sink, kind",
                             arguments: [start.timeIntervalSince1970, end.timeIntervalSince1970]).map { ($0["sink"], $0["kind"], $0["n"]) }
        }
    }
}
