import Foundation
import Synchronization

/// The latest remediation line per alert (`TAKEN: …; recovered …`), so the findings that follow
/// the firing one (escalations, reminders, the resolve) say what was done and whether it helped.
final class RemediationNotes: Sendable {
    private let notes = Mutex<[String: String]>([:])

    subscript(alertKey: String) -> String? {
        get { notes.withLock { $0[alertKey] } }
        set { notes.withLock { $0[alertKey] = newValue } }
    }
}
