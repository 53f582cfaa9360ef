import Foundation
import Logging
import Remediation

/// The one place where a taken action's verification is decided and told: the alert resolving
/// within the window is *recovered*; the window ending with the alert still firing is *not
/// recovered* (the caller escalates; the ledger allows no second action in the incident). Each
/// verdict goes to the ledger, the finding notes, `/metrics` and the log.
struct RemediationVerification: Sendable {
    let store: StateStore
    let notes: RemediationNotes
    let status: DaemonStatus
    let logger: Logger

    /// Resolves after taken actions: recovered. Called before the resolve's finding is made, so
    /// the finding says so.
    func resolved(alertKeys: [String], at time: Date) async {
        guard !alertKeys.isEmpty else { return }
        do {
            for entry in try await store.perform({ try $0.markRecovered(alertKeys: alertKeys, at: time) }) {
                let minutes = Int(time.timeIntervalSince(entry.decision.at) / 60)
                notes[entry.decision.alertKey] = entry.decision.summary + "; RECOVERED: the alert resolved \(minutes) min after the action"
                await status.verification(recovered: true)
                logger.notice("remediation verified: the alert resolved", metadata: [
                    "alert.name": "\(entry.decision.alert)", "remediation.action": "\(entry.decision.action.rawValue)",
                    "remediation.workload": "\(entry.decision.workload)",
                ])
            }
        } catch {
            logger.error("cannot verify remediations", metadata: ["error": "\(error)"])
        }
    }

    /// Taken actions whose window ended by `time` without a resolve: not recovered. Returns the
    /// alerts to escalate, each with the reason.
    func expired(at time: Date) async -> [(alertKey: String, reason: String)] {
        do {
            var escalations: [(alertKey: String, reason: String)] = []
            for entry in try await store.perform({ try $0.markUnrecovered(at: time) }) {
                let decision = entry.decision
                notes[decision.alertKey] = decision.summary + "; NOT RECOVERED within the verification window: escalated"
                await status.verification(recovered: false)
                logger.error("remediation did not help: the alert still fires after the verification window", metadata: [
                    "alert.name": "\(decision.alert)", "remediation.action": "\(decision.action.rawValue)", "remediation.workload": "\(decision.workload)",
                ])
                escalations.append((decision.alertKey, "not recovered after \(decision.action.rawValue) on \(decision.workload)"))
            }
            return escalations
        } catch {
            logger.error("cannot verify remediations", metadata: ["error": "\(error)"])
            return []
        }
    }
}
