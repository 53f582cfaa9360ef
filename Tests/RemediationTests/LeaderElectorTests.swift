import Foundation
import Logging
import MeshFixtures
import MeshHTTP
@testable import Remediation
import Testing

@Suite("Leader election on a coordination.k8s.io/v1 Lease")
struct LeaderElectorTests {
    func elector(_ double: KubernetesDouble, _ identity: String) -> LeaderElector {
        LeaderElector(client: KubernetesClient(connection: .init(server: double.url)),
                      // A lease long enough that a loaded CI machine does not take it away: the test
                      // process shares two cores with the whole suite and four `yes`, and a renewal
                      // starved for longer than the lease is an expiry, correctly. Nothing below waits
                      // for an expiry of these leases (release and takeover are immediate).
                      configuration: .init(namespace: "meshwatchd", identity: identity, leaseDuration: .seconds(120),
                                           renewDeadline: .seconds(90), retryPeriod: .milliseconds(200)),
                      leadership: Leadership(leading: false), logger: Logger(label: "test"))
    }

    /// Campaigns in a task; the returned stream records leadership changes.
    func campaign(_ elector: LeaderElector) -> (Task<Void, Never>, AsyncStream<Bool>) {
        let (stream, continuation) = AsyncStream<Bool>.makeStream()
        return (Task { await elector.run(continuation) }, stream)
    }

    func waitUntil(_ timeout: Duration, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test("one leader at a time; a released lease is taken over at once; a lost lease stops the leader within a retry period")
    func election() async throws {
        try await withKubernetes { double async throws in
            let a = elector(double, "replica-a"), b = elector(double, "replica-b")
            let (taskA, _) = campaign(a)
            // The first lease is a matter of progress, not speed: a busy machine may take a while.
            #expect(await waitUntil(.seconds(120)) { a.leadership.isLeader })
            let (taskB, _) = campaign(b)
            // Progress first (up to 90 s on a busy machine): A renews three times while B campaigns (each renewal a retry period
            // in which B tried), and B never gets the lease.
            let client = KubernetesClient(connection: .init(server: double.url))
            let path = "/apis/coordination.k8s.io/v1/namespaces/meshwatchd/leases/meshwatchd"
            var renewals: Set<String> = []
            let deadline = ContinuousClock.now + .seconds(90)
            while renewals.count < 4 && ContinuousClock.now < deadline {
                let lease = try await client.get(LeaderElector.Lease.self, path)
                #expect(lease.spec.holderIdentity == "replica-a")
                #expect(!b.leadership.isLeader)
                renewals.insert(lease.spec.renewTime ?? "")
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(renewals.count >= 4, "A renewed \(renewals.count - 1) times")
            #expect(a.leadership.isLeader && !b.leadership.isLeader)

            // A stops (shutdown): it releases the lease (holder cleared), so B need not wait for expiry.
            #expect(a.leadership.isLeader)
            taskA.cancel()
            await taskA.value
            #expect(!a.leadership.isLeader)
            let released = try await client.get(LeaderElector.Lease.self, path)
            #expect(released.spec.holderIdentity == nil || released.spec.holderIdentity == "replica-b")
            #expect(await waitUntil(.seconds(60)) { b.leadership.isLeader })

            // Someone else takes the lease from under B (as a partitioned leader would find): B stops leading.
            // B renews every retry period: a compare-and-swap that loses to it is simply tried again.
            var taken = false
            for _ in 0..<100 where !taken {
                var lease = try await client.get(LeaderElector.Lease.self, path)
                lease.spec.holderIdentity = "replica-c"
                lease.spec.renewTime = LeaderElector.microTime(Date().addingTimeInterval(60))
                do {
                    try await client.replace(path: path, body: lease)
                    taken = true
                } catch let error as KubernetesError where error.code == 409 {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(taken)
            #expect(await waitUntil(.seconds(60)) { !b.leadership.isLeader })
            taskB.cancel()
            await taskB.value
            let final = try await client.get(LeaderElector.Lease.self, "/apis/coordination.k8s.io/v1/namespaces/meshwatchd/leases/meshwatchd")
            #expect(final.spec.holderIdentity == "replica-c")  // B did not release what it no longer held
            #expect((final.spec.leaseTransitions ?? 0) >= 1)
        }
    }

    @Test("a leader killed without releasing is replaced once its lease expires")
    func expiry() async throws {
        try await withKubernetes { double async throws in
            let client = KubernetesClient(connection: .init(server: double.url))
            // A lease held by a replica that died 1 s ago, with a 2 s duration.
            let dead = LeaderElector.Lease(metadata: .init(name: "meshwatchd", namespace: "meshwatchd"),
                                           spec: .init(holderIdentity: "dead", leaseDurationSeconds: 2, acquireTime: LeaderElector.microTime(Date()),
                                                       renewTime: LeaderElector.microTime(Date().addingTimeInterval(-1)), leaseTransitions: 0))
            try await client.create(path: "/apis/coordination.k8s.io/v1/namespaces/meshwatchd/leases", body: dead)
            let b = elector(double, "replica-b")
            let start = ContinuousClock.now
            let (task, _) = campaign(b)
            #expect(await waitUntil(.seconds(60)) { b.leadership.isLeader })
            // Not before the dead holder's lease expired (1 s after the start here).
            let took = ContinuousClock.now - start
            #expect(took >= .milliseconds(700), "\(took)")
            task.cancel()
            await task.value
        }
    }
}
