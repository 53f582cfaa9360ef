import Foundation
import Logging
import MeshHTTP
import MetricModel

/// Where and how remote-write requests go.
public struct RemoteWriteSettings: Sendable {
    public var url: String
    /// One request's time limit.
    public var timeout: Duration
    /// Samples waiting at most; past it the oldest batches are dropped (and counted).
    public var maxQueuedSamples: Int
    /// Samples per request at most (a larger batch goes in several requests, in order).
    public var maxSamplesPerSend: Int
    /// Backoff between retries of a failed request: doubling from `minBackoff` to `maxBackoff`
    /// (Prometheus's remote write: 30ms and 5s), or the receiver's Retry-After when longer.
    public var minBackoff: Duration
    public var maxBackoff: Duration
    /// Extra request headers (e.g. X-Scope-OrgID).
    public var headers: [(name: String, value: String)] = []

    public init(url: String, timeout: Duration = .seconds(30), maxQueuedSamples: Int = 100_000, maxSamplesPerSend: Int = 2_000,
                minBackoff: Duration = .milliseconds(30), maxBackoff: Duration = .seconds(5)) {
        self.url = url
        self.timeout = timeout
        self.maxQueuedSamples = maxQueuedSamples
        self.maxSamplesPerSend = maxSamplesPerSend
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
    }
}

/// Why a write did not reach the receiver.
public struct RemoteWriteError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case refused, dropped, notAcknowledged }
    public let kind: Kind
    public let message: String
    public var description: String { message }

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Counters for `/metrics`.
public struct RemoteWriteCounters: Sendable, Equatable {
    public var samplesSent = 0
    public var samplesDropped = 0
    public var samplesFailed = 0
    public var requestsFailed = 0
    public var retries = 0
    public var queuedSamples = 0
}

/// A bounded FIFO of sample batches sent one request at a time, in order (a series' samples
/// must reach the receiver in time order), retrying what failed for a reason that may pass
/// (unreachable, 5xx, 429) with backoff and giving up on what the receiver refused (other
/// 4xx). `write` returns when its batch is acknowledged, so a rule after a recording rule
/// queries what it wrote; a caller that stops waiting (cancelled: the cycle's deadline, a
/// reload) leaves its batch queued, and it is still sent.
public actor RemoteWriteQueue {
    public let settings: RemoteWriteSettings
    private let http: HTTPClient
    private let logger: Logger
    private let sleep: @Sendable (Duration) async throws -> Void

    private struct Batch {
        let id: Int
        var samples: [Sample]
        /// Samples of this batch already acknowledged (it is sent in pieces).
        var sent = 0
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private var batches: [Batch] = []
    private var nextID = 0
    private var sender: Task<Void, Never>?
    public private(set) var counters = RemoteWriteCounters()
    /// The last request failed and none has succeeded since: the receiver is down or refusing load.
    public private(set) var isFailing = false
    /// The batch being sent: never dropped for room while its request is in flight.
    private var inFlight: Int?

    public init(settings: RemoteWriteSettings, http: HTTPClient, logger: Logger,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        self.settings = settings
        self.http = http
        self.logger = logger
        self.sleep = sleep
    }

    /// Queues `samples` and waits until the receiver has acknowledged them. Throws the
    /// receiver's refusal, a drop for room, or `CancellationError` when the caller stops
    /// waiting (the samples stay queued).
    public func write(_ samples: [Sample]) async throws {
        guard !samples.isEmpty else { return }
        try Task.checkCancellation()
        let id = nextID
        nextID += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enqueue(Batch(id: id, samples: samples, waiter: continuation))
            }
        } onCancel: {
            Task { await self.stopWaiting(id) }
        }
    }

    /// Queues `samples` without waiting (staleness markers of a stopped group, for example).
    public func enqueue(_ samples: [Sample]) {
        guard !samples.isEmpty else { return }
        enqueue(Batch(id: nextID, samples: samples))
        nextID += 1
    }

    /// Samples waiting, the batch in flight included.
    public var queuedSamples: Int { batches.reduce(0) { $0 + $1.samples.count - $1.sent } }

    private func enqueue(_ batch: Batch) {
        batches.append(batch)
        makeRoom()
        counters.queuedSamples = queuedSamples
        if sender == nil { sender = Task { await self.drain() } }
    }

    /// Drops the oldest batches (never the one in flight) until the queue is within its bound.
    private func makeRoom() {
        var queued = queuedSamples
        var index = 0
        while queued > settings.maxQueuedSamples && index < batches.count - 1 {
            if batches[index].id == inFlight { index += 1; continue }
            let dropped = batches.remove(at: index)
            let count = dropped.samples.count - dropped.sent
            queued -= count
            counters.samplesDropped += count
            logger.error("remote-write queue full: oldest samples dropped", metadata: [
                "remote_write.dropped_samples": .stringConvertible(count), "remote_write.max_queued_samples": .stringConvertible(settings.maxQueuedSamples),
            ])
            dropped.waiter?.resume(throwing: RemoteWriteError(kind: .dropped, message:
                "remote write: \(count) samples dropped: the queue holds at most \(settings.maxQueuedSamples) samples and the receiver is behind"))
        }
    }

    private func stopWaiting(_ id: Int) {
        guard let index = batches.firstIndex(where: { $0.id == id }), let waiter = batches[index].waiter else { return }
        batches[index].waiter = nil
        waiter.resume(throwing: CancellationError())
    }

    private func finish(_ id: Int, _ error: (any Error)?) {
        guard let index = batches.firstIndex(where: { $0.id == id }) else { return }
        let batch = batches.remove(at: index)
        if let error { batch.waiter?.resume(throwing: error) } else { batch.waiter?.resume() }
        counters.queuedSamples = queuedSamples
    }

    private func drain() async {
        var failures = 0
        while let batch = batches.first {
            inFlight = batch.id
            let end = min(batch.samples.count, batch.sent + max(settings.maxSamplesPerSend, 1))
            let piece = Array(batch.samples[batch.sent..<end])
            do {
                try await send(piece)
                failures = 0
                isFailing = false
                counters.samplesSent += piece.count
                guard let index = batches.firstIndex(where: { $0.id == batch.id }) else { continue }
                batches[index].sent = end
                if end == batch.samples.count { finish(batch.id, nil) }
            } catch where Task.isCancelled || error is CancellationError {
                break  // stopped: what is queued stays unsent, not refused
            } catch let error as HTTPError where error.kind != .status || error.isRetryable {
                // Anything but a refusal may pass (unreachable, timeouts, 5xx, 429, and a credential
                // file briefly unreadable while it is rotated): retried, never dropped for it.
                failures += 1
                isFailing = true
                counters.retries += 1
                counters.requestsFailed += 1
                let wait = backoff(failures, retryAfter: error.retryAfter)
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("remote write failed; retrying", metadata: [
                        "error": "\(error)",
                        "remote_write.attempt": .stringConvertible(failures), "remote_write.backoff": "\(wait)",
                    ])
                }
                do { try await sleep(wait) } catch { break }
            } catch {
                failures = 0
                counters.requestsFailed += 1
                counters.samplesFailed += batch.samples.count - batch.sent
                logger.error("remote write refused; samples dropped", metadata: [
                    "error": "\(error)",
                    "remote_write.samples": .stringConvertible(batch.samples.count - batch.sent),
                ])
                finish(batch.id, RemoteWriteError(kind: .refused, message: "remote write refused: \(error)"))
            }
        }
        inFlight = nil
        sender = nil
        counters.queuedSamples = queuedSamples
    }

    private func backoff(_ failures: Int, retryAfter: String?) -> Duration {
        let base = settings.minBackoff * (1 << min(failures - 1, 20))
        var wait = min(base, settings.maxBackoff)
        if let text = retryAfter, let seconds = Int(text.trimmingCharacters(in: .whitespaces)), seconds > 0 {
            wait = max(wait, .seconds(min(seconds, 300)))
        }
        return wait
    }

    private func send(_ samples: [Sample]) async throws {
        let request = HTTPRequest(method: .post, url: settings.url, headers: [
            ("Content-Type", WriteRequestEncoding.contentType),
            ("Content-Encoding", WriteRequestEncoding.contentEncoding),
            (WriteRequestEncoding.versionHeader, WriteRequestEncoding.version),
            ("User-Agent", "meshwatchd"),
        ] + settings.headers, body: WriteRequestEncoding.body(samples), timeout: settings.timeout)
        _ = try await http.execute(request).requireSuccess()
    }

    /// Waits until everything queued is sent (or refused, or dropped), at most `timeout`;
    /// returns whether the queue is empty. For the end of a one-shot command and shutdown.
    @discardableResult
    public func drain(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !batches.isEmpty && ContinuousClock.now < deadline {
            await Self.pause(.milliseconds(20))
        }
        return batches.isEmpty
    }

    /// Sleeps for `duration` even in a cancelled task. At shutdown the drain runs in a task
    /// already cancelled, where `Task.sleep` returns at once: its wait was a busy loop.
    static func pause(_ duration: Duration) async {
        await Task.detached { try? await Task.sleep(for: duration) }.value
    }

    /// Stops sending (what is queued is lost, as with Prometheus's queue at shutdown past its
    /// flush deadline), and says how many samples that was.
    public func stop() {
        sender?.cancel()
        let lost = queuedSamples
        for batch in batches { batch.waiter?.resume(throwing: CancellationError()) }
        batches = []
        counters.queuedSamples = 0
        if lost > 0 {
            counters.samplesDropped += lost
            logger.warning("remote-write queue stopped with samples unsent", metadata: ["remote_write.dropped_samples": .stringConvertible(lost)])
        }
    }
}
