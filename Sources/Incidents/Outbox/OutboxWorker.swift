import AlertModel
import Foundation
import Logging
import MeshHTTP

/// Delivers queued findings, one worker per sink so that one sink's timeouts and backoff
/// never delay another's: the oldest per sink and alert first (so a firing precedes its
/// resolve), each attempt judged by the delivery policy, retries scheduled in the outbox so
/// they survive a restart. At-least-once: a finding leaves the outbox only when delivered or
/// given up on (logged with the reason). A sink with a group wait gets the findings of one
/// alert and kind that queued together as one message.
public struct OutboxWorker: Sendable {
    /// The longest an idle loop sleeps: work queued raises the signal, a retry has its deadline.
    static let idleWait: Duration = .seconds(3600)

    let store: any OutboxStore
    /// By sink name.
    let sinks: [String: any FindingSink]
    let policy: DeliveryPolicy
    let signal: OutboxSignal
    let reporter: any DeliveryReporting
    let logger: Logger
    /// The most findings one grouped message carries.
    var groupLimit = 50

    public init(store: any OutboxStore, sinks: [any FindingSink], policy: DeliveryPolicy, signal: OutboxSignal,
                reporter: any DeliveryReporting, logger: Logger) {
        self.store = store
        self.sinks = Dictionary(sinks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.policy = policy
        self.signal = signal
        self.reporter = reporter
        self.logger = logger
    }

    /// Runs every sink's worker until cancelled; new findings (`signal`) wake them all.
    public func run() async {
        let signals = Dictionary(uniqueKeysWithValues: sinks.keys.map { ($0, OutboxSignal()) })
        await withTaskGroup(of: Void.self) { workers in
            for (name, sink) in sinks {
                guard let own = signals[name] else { continue }
                own.raise()
                workers.addTask { await deliver(to: sink, signal: own) }
            }
            var lastExpiry = Date.distantPast
            while !Task.isCancelled {
                let now = Date()
                // Hourly is plenty against a maximum age of hours; no timer faster than that when idle.
                if now.timeIntervalSince(lastExpiry) >= Self.idleWait.seconds {
                    lastExpiry = now
                    await expireUnknownSinks(at: now)
                }
                await signal.wait(upTo: Self.idleWait)
                if signal.take() { for own in signals.values { own.raise() } }
            }
            workers.cancelAll()
        }
    }

    /// One sink's loop: delivers what is due, then sleeps until something is queued or its
    /// next retry is due.
    private func deliver(to sink: any FindingSink, signal: OutboxSignal) async {
        var random = SystemRandomNumberGenerator()
        var nextDue: Date?
        while !Task.isCancelled {
            let now = Date()
            if signal.take() || (nextDue.map { $0 <= now } ?? false) {
                var handled: Set<Int64> = []
                for queued in (try? await store.due(at: now, sink: sink.name, limit: 100)) ?? [] where !handled.contains(queued.id) {
                    if Task.isCancelled { break }
                    var batch = [queued]
                    if sink.groupWait != nil {
                        batch += ((try? await store.companions(of: queued, at: now, limit: groupLimit - 1)) ?? [])
                            .filter { !handled.contains($0.id) }
                    }
                    handled.formUnion(batch.map(\.id))
                    await attempt(batch, via: sink, random: &random)
                }
                nextDue = (try? await store.nextDue(sink: sink.name)) ?? nil
                // Never spin: a pass that found nothing to send waits at least a second for its next look.
                if handled.isEmpty, let due = nextDue, due <= Date() { nextDue = Date().addingTimeInterval(1) }
            }
            if Task.isCancelled { break }
            // Sleep until work is queued (the signal) or the next retry is due; idle, an hour.
            let untilDue = nextDue.map { max(0, $0.timeIntervalSinceNow) } ?? Self.idleWait.seconds
            await signal.wait(upTo: .milliseconds(Int64(min(untilDue, Self.idleWait.seconds) * 1000) + 1))
        }
    }

    /// Findings queued for a sink that is no longer configured are kept (it may come back
    /// after a fix to the configuration) until they are older than the policy's maximum age.
    private func expireUnknownSinks(at now: Date) async {
        do {
            let removed = try await store.expire(sinksOtherThan: Set(sinks.keys), olderThan: now.addingTimeInterval(-policy.maximumAge.seconds))
            for (sink, count) in removed.sorted(by: { $0.key < $1.key }) {
                logger.error("findings not delivered: their sink is no longer configured", metadata: [
                    "sink.name": "\(sink)", "delivery.dropped": .stringConvertible(count), "delivery.max_age": "\(policy.maximumAge)",
                ])
            }
            let waiting = try await store.depthBySink().filter { sinks[$0.key] == nil }
            for (sink, count) in waiting.sorted(by: { $0.key < $1.key }) {
                logger.warning("findings queued for a sink no longer configured are kept until they expire", metadata: [
                    "sink.name": "\(sink)", "outbox.depth": .stringConvertible(count),
                ])
            }
        } catch {
            logger.error("could not read the outbox", metadata: ["error": "\(error)"])
        }
    }

    private func attempt(_ batch: [QueuedFinding], via sink: any FindingSink, random: inout SystemRandomNumberGenerator) async {
        let head = batch[0]
        let ids = batch.map(\.id)
        let now = Date()
        let attempt = head.attempts + 1
        let outcome: Result<HTTPResponse, HTTPError>
        var metadata: Logger.Metadata = ["sink.name": "\(sink.name)", "finding.id": "\(head.findingID)", "delivery.attempt": .stringConvertible(attempt),
                                         "alert.name": "\(head.alertName)", "finding.kind": "\(head.kind)"]
        if batch.count > 1 {
            metadata["finding.ids"] = "\(batch.map(\.findingID).joined(separator: ","))"
            metadata["delivery.grouped"] = .stringConvertible(batch.count)
        }
        let started = ContinuousClock.now
        do {
            outcome = batch.count == 1
                ? try await sink.send(body: head.body, id: head.findingID, at: now)
                : try await sink.send(group: batch.map(\.body), ids: batch.map(\.findingID), at: now)
            await reporter.deliveryAttempt(sink: sink.name, took: ContinuousClock.now - started)
        } catch is CancellationError {
            return  // the findings stay queued
        } catch {
            // The finding could not be rendered for this sink: retrying will not help.
            await store.note(batch, state: "failed", attempts: attempt, detail: "cannot render for this sink: \(error)")
            try? await store.remove(ids)
            await reporter.delivery(sink: sink.name, .failed, count: batch.count)
            logger.error("finding not delivered", metadata: metadata.merging(["error": "cannot render for this sink: \(error)"]) { $1 })
            return
        }
        let age = Duration.milliseconds(Int64(max(0, now.timeIntervalSince(head.queuedAt)) * 1000))
        do {
            switch policy.verdict(outcome, attempt: attempt, age: age, now: now, random: &random) {
            case .delivered:
                await store.note(batch, state: "delivered", attempts: attempt, detail: nil)
                try await store.remove(ids)
                await reporter.delivery(sink: sink.name, .delivered, count: batch.count)
                logger.info("finding delivered", metadata: metadata)
            case .retry(let wait, let reason):
                await store.note(batch, state: "retrying", attempts: attempt, detail: "\(reason)")
                try await store.postpone(ids, attempts: attempt, until: now.addingTimeInterval(wait.seconds))
                await reporter.delivery(sink: sink.name, .retried, count: batch.count)
                logger.warning("finding delivery failed; will retry", metadata: metadata.merging(["error": "\(reason)", "delivery.retry_in": "\(wait)"]) { $1 })
            case .giveUp(let reason):
                await store.note(batch, state: "failed", attempts: attempt, detail: "\(reason)")
                try await store.remove(ids)
                await reporter.delivery(sink: sink.name, .failed, count: batch.count)
                logger.error("finding not delivered", metadata: metadata.merging(["error": "\(reason)"]) { $1 })
            }
        } catch {
            logger.error("could not update the outbox", metadata: ["error": "\(error)"])
        }
    }
}
