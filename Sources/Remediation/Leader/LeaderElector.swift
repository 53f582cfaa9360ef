import Foundation
import Logging
import MetricModel
import Synchronization

/// Whether this process may act. Without leader election it always may; with it, only while
/// it can prove on the monotonic clock that its last successful renewal started within the
/// renew deadline (minus a margin): a flag alone would let a stopped-and-resumed leader write.
public final class Leadership: Sendable {
    private struct State {
        var leading: Bool
        /// When the last successful acquire or renew was sent (the lease's renewTime is that moment).
        var renewedAt: ContinuousClock.Instant?
        /// nil: no leader election.
        var renewDeadline: Duration?
    }

    private let state: Mutex<State>
    public init(leading: Bool) { state = Mutex(State(leading: leading)) }

    private let leader = Mutex<(identity: String?, url: String?)>((nil, nil))

    /// The holder of the lease as last read, and the listener it announced (followers forward to it).
    public var observedLeader: (identity: String?, url: String?) { leader.withLock { $0 } }

    public func observe(leader identity: String?, url: String?) { leader.withLock { $0 = (identity, url) } }
    public var isLeader: Bool { state.withLock { $0.leading } }
    public func set(_ value: Bool) { state.withLock { $0.leading = value } }

    /// A successful acquire or renew whose request was sent at `sentAt`.
    public func renewed(sentAt: ContinuousClock.Instant, renewDeadline: Duration) {
        state.withLock {
            $0.renewedAt = sentAt
            $0.renewDeadline = renewDeadline
        }
    }

    /// Nil when the lease is provably held now, else why not.
    public func leaseProblem(now: ContinuousClock.Instant = .now) -> String? {
        state.withLock { state in
            guard state.leading else { return "this replica is not the leader" }
            guard let deadline = state.renewDeadline else { return nil }
            guard let renewedAt = state.renewedAt else { return "this replica has no renewal of the lease on record" }
            let margin = max(deadline / 5, .milliseconds(200))
            let age = now - renewedAt
            return age < deadline - margin ? nil
                : "the lease was last renewed \(age.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) ago, not provably within renew_deadline \(deadline) (margin \(margin))"
        }
    }
}

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does:
/// acquire when the lease is free or its holder let it expire; renew every retry period;
/// give up leadership at once when a renewal has not succeeded within the renew deadline
/// or another holder appears; release the lease on shutdown so a follower takes over fast.
public actor LeaderElector {
    public struct Configuration: Sendable {
        public var namespace: String
        public var name: String
        public var identity: String
        public var leaseDuration: Duration
        public var renewDeadline: Duration
        public var retryPeriod: Duration
        /// This replica's status listener as the others reach it, announced in the Lease while it leads.
        public var advertiseURL: String?

        /// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
        public init(namespace: String, name: String = "meshwatchd", identity: String, leaseDuration: Duration = .seconds(15),
                    renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2), advertiseURL: String? = nil) {
            self.advertiseURL = advertiseURL
            self.namespace = namespace
            self.name = name
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
    }

    public nonisolated let client: KubernetesClient
    public nonisolated let configuration: Configuration
    public nonisolated let leadership: Leadership
    let logger: Logger
    private var lastRenewal: Date?
    private var observedHolder: String?

    public init(client: KubernetesClient, configuration: Configuration, leadership: Leadership, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.leadership = leadership
        self.logger = logger
    }

    /// Where the leader announces its status listener.
    public static let leaderURLAnnotation = "meshwatchd.io/leader-url"

    var path: String { "/apis/coordination.k8s.io/v1/namespaces/\(configuration.namespace)/leases/\(configuration.name)" }

    /// Campaigns until cancelled, yielding every change of leadership; releases the lease at the end.
    public func run(_ changes: AsyncStream<Bool>.Continuation) async {
        var leading = false
        while !Task.isCancelled {
            let now = Date()
            let sent = ContinuousClock.now
            let renewed = await tryAcquireOrRenew(now: now)
            if renewed {
                lastRenewal = now
                leadership.renewed(sentAt: sent, renewDeadline: configuration.renewDeadline)
            }
            let stillLeading = renewed || (leading && observedHolder == configuration.identity
                                            && now.timeIntervalSince(lastRenewal ?? .distantPast) < configuration.renewDeadline.seconds)
            if stillLeading != leading {
                leading = stillLeading
                leadership.set(leading)
                logger.log(level: .notice, leading ? "acquired leadership" : "lost leadership; stopping at once", metadata: [
                    "lease": "\(configuration.namespace)/\(configuration.name)", "identity": "\(configuration.identity)",
                    "lease.holder": "\(observedHolder ?? "")",
                ])
                changes.yield(leading)
            }
            do { try await Task.sleep(for: configuration.retryPeriod) } catch { break }
        }
        if leading {
            leadership.set(false)
            changes.yield(false)
            // Cancelled (shutdown): the release must still reach the API server.
            await Task.detached { await self.release() }.value
        }
        changes.finish()
    }

    struct Lease: Codable {
        struct Meta: Codable {
            var name: String
            var namespace: String?
            var resourceVersion: String?
            // Kept as read: a replace must not drop what others put on the Lease.
            var labels: [String: String]?
            var annotations: [String: String]?
        }
        struct Spec: Codable {
            var holderIdentity: String?
            var leaseDurationSeconds: Int?
            var acquireTime: String?
            var renewTime: String?
            var leaseTransitions: Int?
        }
        var apiVersion = "coordination.k8s.io/v1"
        var kind = "Lease"
        var metadata: Meta
        var spec: Spec
    }

    static func microTime(_ date: Date) -> String {
        RFC3339.string(date, .microseconds)
    }

    /// One attempt; true when this process holds the lease afterwards.
    func tryAcquireOrRenew(now: Date) async -> Bool {
        let me = configuration.identity
        let seconds = Int(configuration.leaseDuration.seconds.rounded(.up))
        let existing: Lease
        do {
            existing = try await client.get(Lease.self, path)
        } catch let error as KubernetesError where error.isNotFound {
            var lease = Lease(metadata: .init(name: configuration.name, namespace: configuration.namespace),
                              spec: .init(holderIdentity: me, leaseDurationSeconds: seconds, acquireTime: Self.microTime(now),
                                          renewTime: Self.microTime(now), leaseTransitions: 0))
            if let url = configuration.advertiseURL { lease.metadata.annotations = [Self.leaderURLAnnotation: url] }
            do {
                try await client.create(path: "/apis/coordination.k8s.io/v1/namespaces/\(configuration.namespace)/leases", body: lease)
                observedHolder = me
                leadership.observe(leader: me, url: configuration.advertiseURL)
                return true
            } catch {
                logger.debug("cannot create the lease", metadata: ["error": "\(error)"])
                return false
            }
        } catch {
            logger.warning("cannot read the lease", metadata: ["error": "\(error)"])
            return false
        }
        observedHolder = existing.spec.holderIdentity
        let holder = existing.spec.holderIdentity ?? ""
        let renewedAt = existing.spec.renewTime.flatMap(KubeTime.parse) ?? .distantPast
        let duration = Double(existing.spec.leaseDurationSeconds ?? seconds)
        if !holder.isEmpty && holder != me && now.timeIntervalSince(renewedAt) < duration {
            leadership.observe(leader: holder, url: existing.metadata.annotations?[Self.leaderURLAnnotation])
            return false  // held by another, not expired
        }
        var lease = existing
        if holder != me {
            lease.spec.acquireTime = Self.microTime(now)
            lease.spec.leaseTransitions = (existing.spec.leaseTransitions ?? 0) + 1
        }
        lease.spec.holderIdentity = me
        lease.spec.leaseDurationSeconds = seconds
        lease.spec.renewTime = Self.microTime(now)
        if let url = configuration.advertiseURL {
            lease.metadata.annotations = (lease.metadata.annotations ?? [:]).merging([Self.leaderURLAnnotation: url]) { $1 }
        } else {
            lease.metadata.annotations?[Self.leaderURLAnnotation] = nil
        }
        do {
            // The resourceVersion makes this a compare-and-swap: a concurrent writer gets a 409.
            try await client.replace(path: path, body: lease)
            observedHolder = me
            leadership.observe(leader: me, url: configuration.advertiseURL)
            return true
        } catch {
            logger.debug("cannot update the lease", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Gives the lease up (holder cleared, duration 1 s) so a follower need not wait for expiry.
    /// A renewal cancelled by the shutdown may still land first and bump the resourceVersion:
    /// a conflict is read again and retried, while the lease is still ours.
    func release() async {
        for attempt in 0..<3 {
            // A slow or failing read is tried again: giving up silently would leave followers
            // waiting for the lease to expire.
            var read: Lease?
            do { read = try await client.get(Lease.self, path) } catch {
                logger.warning("cannot read the lease to release it", metadata: ["error": "\(error)", "attempt": .stringConvertible(attempt + 1)])
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            guard var lease = read, lease.spec.holderIdentity == configuration.identity else { return }
            lease.spec.holderIdentity = nil
            lease.spec.leaseDurationSeconds = 1
            lease.spec.renewTime = Self.microTime(Date())
            do {
                try await client.replace(path: path, body: lease)
                logger.info("released the lease", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])
                return
            } catch let error as KubernetesError where error.code == 409 {
                continue
            } catch {
                logger.warning("cannot release the lease", metadata: ["error": "\(error)"])
                return
            }
        }
        logger.warning("cannot release the lease: it kept changing", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])
    }
}
