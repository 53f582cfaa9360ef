import Foundation
import Synchronization

/// The remediation ledger as the remediator needs it: a durable reservation per workload made
/// in one atomic check-and-insert before anything awaits, the write noted before it is sent,
/// and the outcome. Implemented once over SQLite by the daemon; `InMemoryLedger` for the demo
/// and the tests.
public protocol RemediationLedger: Sendable {
    /// In one transaction: refuses when `workload` has an open reservation; otherwise inserts
    /// one and returns it with what the ledger says about everything else (open reservations
    /// count as actions: a crash between reservation and outcome still counts).
    func reserve(_ request: ReservationRequest) throws -> ReservationResult
    /// The write is about to be sent (the crash-recovery needs to know it may have happened).
    func noteWrite(reservation: Int64, resourceVersion: String, annotation: String) throws
    /// The outcome; the reservation is released. A taken (or unknown) action is verified until `verifyUntil`.
    func complete(reservation: Int64, with decision: RemediationDecision, verifyUntil: Date?) throws
    /// Reservations never completed (a crash): to be reconciled against the cluster.
    func openReservations() throws -> [OpenReservation]
    /// A decision made without a reservation (its target invalid, its workload busy).
    func record(_ decision: RemediationDecision) throws
}

public struct ReservationRequest: Sendable {
    public var workload: WorkloadRef
    /// The decision as it stands while being made (alert key, action, uid): the open row.
    public var provisional: RemediationDecision
    public var now: Date
    public var cooldown: Duration

    public init(workload: WorkloadRef, provisional: RemediationDecision, now: Date, cooldown: Duration) {
        self.workload = workload
        self.provisional = provisional
        self.now = now
        self.cooldown = cooldown
    }
}

public enum ReservationResult: Sendable {
    case reserved(id: Int64, summary: LedgerSummary)
    /// Another decision holds this workload.
    case busy(heldBy: String)
}

/// A reservation left open by a crash.
public struct OpenReservation: Sendable {
    public var id: Int64
    public var decision: RemediationDecision
    /// Set once the write was about to be sent: the resourceVersion it was decided on and the
    /// cooldown annotation value it carries (its presence on the Deployment proves the write).
    public var resourceVersion: String?
    public var annotation: String?

    public init(id: Int64, decision: RemediationDecision, resourceVersion: String?, annotation: String?) {
        self.id = id
        self.decision = decision
        self.resourceVersion = resourceVersion
        self.annotation = annotation
    }
}

/// One ledger row as the summary needs it.
public struct LedgerFact: Sendable {
    public var decision: RemediationDecision
    public var open: Bool
    public var verifyUntil: Date?
    public var verified: String?

    public init(decision: RemediationDecision, open: Bool, verifyUntil: Date?, verified: String?) {
        self.decision = decision
        self.open = open
        self.verifyUntil = verifyUntil
        self.verified = verified
    }
}

extension LedgerSummary {
    /// What the guards need, from the rows of the last week. Taken, unknown and still-open
    /// decisions are actions: they count against the cooldown, the budget, the incident and in-flight.
    public init(facts: [LedgerFact], now: Date) {
        self.init()
        for fact in facts where fact.open || fact.decision.outcome.countsAsAction {
            let decision = fact.decision
            lastTaken[decision.workload] = max(lastTaken[decision.workload] ?? .distantPast, decision.at)
            if now.timeIntervalSince(decision.at) < 3600 { takenInLastHour += 1 }
            actedOn.insert("\(decision.alertKey) \(decision.workload)")
            if fact.open {
                inFlight.append("\(decision.workload) (being decided)")
            } else if fact.verified == nil, let until = fact.verifyUntil, until > now {
                inFlight.append(decision.workload)
            }
        }
    }

    /// How far back the ledger is read for a summary.
    public static func horizon(now: Date, cooldown: Duration) -> Date {
        now.addingTimeInterval(-max(cooldown.seconds, 7 * 86400))
    }
}

/// The ledger in memory: the demo (which keeps nothing) and tests.
public final class InMemoryLedger: RemediationLedger {
    public struct Row: Sendable {
        public var id: Int64
        public var decision: RemediationDecision
        public var open: Bool
        public var verifyUntil: Date?
        public var resourceVersion: String?
        public var annotation: String?
    }

    private let rows = Mutex<[Row]>([])

    public init() {}

    public var all: [Row] { rows.withLock { $0 } }

    public func reserve(_ request: ReservationRequest) throws -> ReservationResult {
        rows.withLock { rows in
            if let holder = rows.first(where: { $0.open && $0.decision.workload == request.workload.description }) {
                return .busy(heldBy: "\(holder.decision.alert) (\(holder.decision.action.rawValue))")
            }
            let horizon = LedgerSummary.horizon(now: request.now, cooldown: request.cooldown)
            let summary = LedgerSummary(facts: rows.filter { $0.decision.at >= horizon }.map {
                LedgerFact(decision: $0.decision, open: $0.open, verifyUntil: $0.verifyUntil, verified: nil)
            }, now: request.now)
            let id = Int64(rows.count + 1)
            rows.append(Row(id: id, decision: request.provisional, open: true))
            return .reserved(id: id, summary: summary)
        }
    }

    public func noteWrite(reservation: Int64, resourceVersion: String, annotation: String) throws {
        rows.withLock { rows in
            guard let index = rows.firstIndex(where: { $0.id == reservation }) else { return }
            rows[index].resourceVersion = resourceVersion
            rows[index].annotation = annotation
        }
    }

    public func complete(reservation: Int64, with decision: RemediationDecision, verifyUntil: Date?) throws {
        rows.withLock { rows in
            guard let index = rows.firstIndex(where: { $0.id == reservation }) else { return }
            rows[index].decision = decision
            rows[index].open = false
            rows[index].verifyUntil = verifyUntil
        }
    }

    public func record(_ decision: RemediationDecision) throws {
        rows.withLock { $0.append(Row(id: Int64($0.count + 1), decision: decision, open: false)) }
    }

    public func openReservations() throws -> [OpenReservation] {
        rows.withLock { rows in
            rows.filter(\.open).map { OpenReservation(id: $0.id, decision: $0.decision, resourceVersion: $0.resourceVersion, annotation: $0.annotation) }
        }
    }
}
