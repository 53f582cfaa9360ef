import Foundation
import Incidents
import Logging
import MetricModel
import Remediation
import Synchronization

/// Runs the runbook of each newly firing alert and puts its evidence into the finding before
/// it goes out. The request is durable (saved with the finding); a runbook that does not
/// finish by the deadline lets the finding go without its evidence rather than hold it.
struct DiagnosisWorker: Sendable {
    let store: StateStore
    let diagnosis: DaemonSettings.Diagnosis
    let signal: OutboxSignal
    let outboxSignal: OutboxSignal
    let logger: Logger
    /// Runbooks run at once.
    var concurrency = 4

    func run() async {
        let running = RunningSet()
        var nextCheck = Date()
        await withDiscardingTaskGroup { tasks in
            while !Task.isCancelled {
                if signal.take() || Date() >= nextCheck {
                    nextCheck = Date().addingTimeInterval(5)
                    for request in (try? store.pendingDiagnoses()) ?? [] {
                        let started = running.ids.withLock { ids -> Bool in
                            guard ids.count < concurrency, !ids.contains(request.findingID) else { return false }
                            ids.insert(request.findingID)
                            return true
                        }
                        guard started else { continue }
                        tasks.addTask {
                            await diagnose(request)
                            running.ids.withLock { _ = $0.remove(request.findingID) }
                            signal.raise()  // look again: more may wait
                        }
                    }
                }
                do { try await Task.sleep(for: .milliseconds(50)) } catch { break }
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
        metadata["runbook.steps_ok"] = "\(evidence.steps.filter { $0.status == .ok }.count)"
        metadata["runbook.steps_failed"] = "\(evidence.steps.filter { $0.status == .failed }.count)"
        metadata["runbook.target"] = "\(evidence.target.map { "\($0.namespace)/\($0.deployment)" } ?? "none")"
        let structured = (try? JSONEncoder().encode(evidence)).flatMap { try? JSONDecoder().decode(JSONValue.self, from: $0) }
        attach("runbook finished; evidence attached") { finding in
            finding.evidence = evidence.summaryLines
            finding.diagnostics = structured
        }
    }
}


/// Finding ids whose runbook is running.
final class RunningSet: Sendable {
    let ids = Mutex<Set<String>>([])
}
