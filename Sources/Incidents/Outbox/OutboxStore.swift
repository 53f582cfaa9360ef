import Foundation

/// A finding waiting in the outbox for one sink.
public struct QueuedFinding: Sendable {
    public var id: Int64
    public var findingID: String
    public var sink: String
    public var alertName: String
    public var kind: String
    public var body: [UInt8]
    public var queuedAt: Date
    public var attempts: Int

    public init(id: Int64, findingID: String, sink: String, alertName: String, kind: String, body: [UInt8], queuedAt: Date, attempts: Int) {
        self.id = id
        self.findingID = findingID
        self.sink = sink
        self.alertName = alertName
        self.kind = kind
        self.body = body
        self.queuedAt = queuedAt
        self.attempts = attempts
    }
}

/// The durable outbox the delivery workers read: findings are queued by whoever saves the
/// state change that caused them (in the same transaction), and leave it only when delivered
/// or given up on. The daemon implements it over SQLite, on a thread of the store's own (the
/// methods are async so that no blocking disk call holds one of Swift's cooperative threads).
public protocol OutboxStore: Sendable {
    /// Findings due for `sink`: per alert only the oldest, so an alert's firing always reaches
    /// a sink before its resolve.
    func due(at time: Date, sink: String, limit: Int) async throws -> [QueuedFinding]
    /// The other alerts' oldest findings for the same sink, alert name and kind, never attempted
    /// or due as well: what a grouping sink sends in one message with `head`.
    func companions(of head: QueuedFinding, at time: Date, limit: Int) async throws -> [QueuedFinding]
    /// When `sink`'s next finding is due (over each alert's oldest), or nil when none waits.
    func nextDue(sink: String) async throws -> Date?
    func remove(_ ids: [Int64]) async throws
    func postpone(_ ids: [Int64], attempts: Int, until time: Date) async throws
    /// Removes what is queued for sinks not in `names` and older than `cutoff`; how many per sink.
    func expire(sinksOtherThan names: Set<String>, olderThan cutoff: Date) async throws -> [String: Int]
    /// Queued findings per sink.
    func depthBySink() async throws -> [String: Int]
    /// What became of an attempt (`delivered`, `retrying`, `failed`), for whoever shows
    /// deliveries; called before the findings are removed or postponed.
    func note(_ batch: [QueuedFinding], state: String, attempts: Int, detail: String?) async
}

extension OutboxStore {
    public func note(_ batch: [QueuedFinding], state: String, attempts: Int, detail: String?) async {}
}

/// What became of a delivery attempt, for whoever counts them (`/metrics`).
public enum DeliveryOutcome: Sendable { case delivered, retried, failed }

/// Counts delivery outcomes per sink.
public protocol DeliveryReporting: Sendable {
    func delivery(sink: String, _ outcome: DeliveryOutcome, count: Int) async
    /// How long one delivery attempt took, whatever its outcome (a grouped message is one attempt).
    func deliveryAttempt(sink: String, took duration: Duration) async
}

extension DeliveryReporting {
    public func deliveryAttempt(sink: String, took duration: Duration) async {}
}
