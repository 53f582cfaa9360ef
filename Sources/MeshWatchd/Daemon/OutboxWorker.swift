import AlertEngine
import Foundation
import Incidents
import Logging

/// Delivers queued findings: the oldest per sink and alert first (so a firing precedes its
/// resolve), each attempt judged by the delivery policy, retries scheduled in the outbox so
/// they survive a restart. At-least-once: a finding leaves the outbox only when delivered or
/// given up on (logged with the reason).
struct OutboxWorker: Sendable {
    let store: StateStore
    let sinks: [String: ConfiguredSink]
    let policy: DeliveryPolicy
    let signal: OutboxSignal
    let logger: Logger

    func run() async {
        var random = SystemRandomNumberGenerator()
        var nextDue = (try? store.nextDue()) ?? nil
        var warnedMissing: Set<String> = []
        while !Task.isCancelled {
            let now = Date()
            if signal.take() || (nextDue.map { $0 <= now } ?? false) {
                for queued in (try? store.due(at: now)) ?? [] {
                    if Task.isCancelled { break }
                    guard let sink = sinks[queued.sink] else {
                        if warnedMissing.insert(queued.sink).inserted {
                            logger.warning("findings queued for a sink no longer configured are kept", metadata: ["sink.name": "\(queued.sink)"])
                        }
                        continue
                    }
                    await attempt(queued, via: sink, random: &random)
                }
                nextDue = (try? store.nextDue()) ?? nil
                if let due = nextDue, due <= Date(), !sinks.isEmpty {
                    // Rows for unknown sinks stay due forever: do not spin on them.
                    if ((try? store.due(at: Date())) ?? []).allSatisfy({ sinks[$0.sink] == nil }) { nextDue = nil }
                }
            }
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
    }

    private func attempt(_ queued: StateStore.Queued, via sink: ConfiguredSink, random: inout SystemRandomNumberGenerator) async {
        let now = Date()
        let attempt = queued.attempts + 1
        let outcome: Result<HTTPResponse, HTTPError>
        do {
            outcome = try await sink.sink.send(body: queued.body, id: queued.findingID, at: now)
        } catch is CancellationError {
            return  // the finding stays queued
        } catch {
            // The finding could not be rendered for this sink: retrying will not help.
            try? store.remove(queued.id)
            logger.error("finding not delivered", metadata: ["sink.name": "\(sink.name)", "finding.id": "\(queued.findingID)",
                                                            "error": "cannot render for this sink: \(error)"])
            return
        }
        let age = Duration.milliseconds(Int64(max(0, now.timeIntervalSince(queued.queuedAt)) * 1000))
        let metadata: Logger.Metadata = ["sink.name": "\(sink.name)", "finding.id": "\(queued.findingID)", "delivery.attempt": "\(attempt)"]
        do {
            switch policy.verdict(outcome, attempt: attempt, age: age, now: now, random: &random) {
            case .delivered:
                try store.remove(queued.id)
                logger.info("finding delivered", metadata: metadata)
            case .retry(let wait, let reason):
                try store.postpone(queued.id, attempts: attempt, until: now.addingTimeInterval(wait.seconds))
                logger.warning("finding delivery failed; will retry", metadata: metadata.merging(["error": "\(reason)", "delivery.retry_in": "\(wait)"]) { $1 })
            case .giveUp(let reason):
                try store.remove(queued.id)
                logger.error("finding not delivered", metadata: metadata.merging(["error": "\(reason)"]) { $1 })
            }
        } catch {
            logger.error("could not update the outbox", metadata: ["error": "\(error)"])
        }
    }
}

import MeshHTTP
