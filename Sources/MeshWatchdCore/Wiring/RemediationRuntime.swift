import Foundation
import Remediation

/// What every generation of the daemon shares for remediation: the lease, the alerts its
/// evaluations saw firing, the mode in force (a reload changes it for decisions in flight too),
/// the ledger, and when the process started (reservations older than that were left by a crash).
struct RemediationRuntime: Sendable {
    let leadership: Leadership
    let ledger: any RemediationLedger
    let firing = FiringAlerts()
    let mode = LiveMode(.off)
    let started = Date()
    /// The latest remediation line per alert, for the findings that follow (shared by every generation).
    let notes = RemediationNotes()
}
