import Foundation
import Incidents
import Logging
import MetricModel
import Remediation
import Synchronization

/// Runs the runbook of each newly firing alert and puts its evidence into the finding before
/// it goes out. The request is durable (saved with the finding); a runbook that does not
/// finish by the deadline lets the finding go without its evidence rather than hold it.
package struct DiagnosisWorker: Sendable {
    let store: StateStore
    let diagnosis: DaemonSettings.Diagnosis
    let signal: OutboxSignal
    let outboxSignal: OutboxSignal
    let planner: NotificationPlanner
    let status: DaemonStatus
    let logger: Logger

    var notes: RemediationNotes { diagnosis.notes }
    /// Runbooks run at once.
    var concurrency = 4
    /// The longest the worker sleeps with nothing queued and no verification due.
    static let idleWait: Duration = .seconds(3600)

    func run() async {
        // Reservations a crash left open are settled against the cluster before anything new is decided.
        for decision in await diagnosis.remediator.reconcile(openBefore: diagnosis.started) { await report(decision) }
        let running = RunningSet()
        var nextCheck = Date()
        await withDiscardingTaskGroup { tasks in
            while !Task.isCancelled {
                // Woken by work queued (the signal) or by the next verification window's end; idle,
                // no timer faster than an hour.
                if signal.take() || Date() >= nextCheck {
                    await verify()
                    let next = (try? await store.perform { try $0.nextVerification(at: Date()) }) ?? nil
                    nextCheck = min(next ?? .distantFuture, Date().addingTimeInterval(Self.idleWait.seconds))
                    let pending = (try? await store.perform { try $0.pendingDiagnoses() }) ?? []
                    // A list read just before a runbook finished still holds its request: what is
                    // done stays known until the store no longer lists it, so nothing runs twice.
                    running.finished.withLock { $0.formIntersection(pending.map(\.findingID)) }
                    for request in pending {
                        let started = running.ids.withLock { ids -> Bool in
                            guard ids.count < concurrency, !ids.contains(request.findingID),
                                  !running.finished.withLock({ $0.contains(request.findingID) }) else { return false }
                            ids.insert(request.findingID)
                            return true
                        }
                        guard started else { continue }
                        tasks.addTask {
                            await diagnose(request)
                            running.finished.withLock { _ = $0.insert(request.findingID) }
                            running.ids.withLock { _ = $0.remove(request.findingID) }
                            signal.raise()  // look again: more may wait
                        }
                    }
                }
                if Task.isCancelled { break }
                let wait = min(max(nextCheck.timeIntervalSinceNow, 0), Self.idleWait.seconds)
                await signal.wait(upTo: .milliseconds(Int64(wait * 1000) + 1))
            }
            tasks.cancelAll()
        }
    }

    private func diagnose(_ request: StateStore.DiagnosisRequest) async {
        var metadata: Logger.Metadata = ["alert.name": "\(request.alert)", "finding.id": "\(request.findingID)"]
        let attach: (String, (inout Finding) -> Void) -> Void = { message, update in
            do {
                try store.attachEvidence(findingID: request.findingID, update: update)
                outboxSignal.raise()
                logger.info("\(message)", metadata: metadata)
            } catch {
                logger.error("could not attach evidence to the finding", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
        if request.deadline <= Date() {
            attach("runbook not run: its deadline passed (the finding went out without evidence)") {
                $0.evidence = ["runbook: not run before the evidence deadline"]
            }
            return
        }
        guard let runbook = diagnosis.catalog[request.alert] else {
            attach("no runbook for the alert") { _ in }
            return
        }
        let evidence = await diagnosis.runner.run(runbook, for: AlertContext(name: request.alert, labels: request.labels,
                                                                             activeAt: request.activeAt, time: request.evaluatedAt))
        metadata["runbook.steps_ok"] = .stringConvertible(evidence.steps.filter { $0.status == .ok }.count)
        metadata["runbook.steps_failed"] = .stringConvertible(evidence.steps.filter { $0.status == .failed }.count)
        metadata["runbook.target"] = "\(evidence.target.map { "\($0.namespace)/\($0.deployment)" } ?? "none")"
        let structured = Self.json(evidence)
        let (line, decision) = await remediate(runbook, request: request, evidence: evidence)
        attach("runbook finished; evidence attached") { finding in
            finding.evidence = evidence.summaryLines
            finding.diagnostics = structured
            finding.remediation = line
            finding.decision = decision.flatMap(Self.json)
        }
    }

    /// The value as a JSON tree: what `JSONEncoder` would write, as the parser reads it (built
    /// directly: the text in between cost more than the runbook's queries). Nil for what cannot
    /// be written (NaN), and for trees nested past 16 levels below the parser's limit: the value
    /// goes inside a finding (under `diagnostics` or `decision`), which must still be readable.
    package static func json(_ value: some Encodable) -> JSONValue? {
        try? JSONValueEncoder(maximumDepth: JSONValue.maximumDepth - 16, date: { RFC3339.string($0) }).encode(value)
    }

    /// The runbook's proposed action through the guard chain; the remediator writes the ledger.
    /// The decision goes to the log, /metrics and the finding. Returns the finding's line and the
    /// decision, if one was made.
    private func remediate(_ runbook: Runbook, request: StateStore.DiagnosisRequest, evidence: Evidence) async -> (String?, RemediationDecision?) {
        guard let action = runbook.remediation.flatMap(RemediationAction.init(rawValue:)) else { return (nil, nil) }
        let policy = diagnosis.remediation
        guard policy.mode != .off else { return ("remediation is off; the runbook proposes \(action.rawValue)", nil) }
        guard let target = evidence.target else {
            return ("not decided: no target workload (\(evidence.targetProblem ?? "unknown"))", nil)
        }
        let decision = await diagnosis.remediator.decide(
            .init(action: action, alert: request.alert, alertKey: request.alertKey, target: target, recentRollout: evidence.recentRollout,
                  rule: request.rule),
            criticalWorkloads: planner.criticalWorkloadCount, now: Date())
        await report(decision)
        return (decision.summary, decision)
    }

    private func report(_ decision: RemediationDecision) async {
        await status.remediation(decision)
        notes[decision.alertKey] = decision.summary
        logger.log(level: decision.outcome.countsAsAction ? .notice : .info, "remediation decided", metadata: [
            "alert.name": "\(decision.alert)", "remediation.action": "\(decision.action.rawValue)", "remediation.outcome": "\(decision.outcome.rawValue)",
            "remediation.guard": "\(decision.decidedBy)", "remediation.reason": "\(decision.reason)", "remediation.workload": "\(decision.workload)",
            "remediation.change": "\(decision.change ?? "")", "remediation.id": "\(decision.id ?? "")",
        ])
        if decision.escalate { escalate(decision.alertKey, because: decision.reason) }
    }

    private func escalate(_ alertKey: String, because reason: String) {
        let plan = planner.requestEscalation(alertKey: alertKey)
        do { try store.save(plan: plan) } catch {
            logger.error("could not save the escalation", metadata: ["error": "\(error)"])
        }
        logger.warning("escalating", metadata: ["alert.key": "\(alertKey)", "reason": "\(reason)"])
    }

    /// Taken actions whose verification window ended without the alert resolving: not
    /// recovered, escalated one level, and no second action in this incident (the ledger says so).
    private func verify() async {
        let verification = RemediationVerification(store: store, notes: notes, status: status, logger: logger)
        for (alertKey, reason) in await verification.expired(at: Date()) { escalate(alertKey, because: reason) }
    }
}


/// Finding ids whose runbook is running.
final class RunningSet: Sendable {
    let ids = Mutex<Set<String>>([])
    /// Diagnosed by this process and perhaps still listed by a read made before they finished.
    let finished = Mutex<Set<String>>([])
}
