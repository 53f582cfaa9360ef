import AlertEngine
import Foundation
import MeshFixtures
import MeshHTTP
@testable import MeshWatchdCore
import MetricModel
import PromClient
import Synchronization
import Testing

@Suite("The cycle's deadline: a query ended by it fails its rule with the deadline's error, without a timer per query")
struct CycleDeadlineTests {
    /// Answers through the bounded path (or declines it), and records which path was taken.
    final class Bounded: DeadlineBoundedQuerying, Sendable {
        enum Answer: Sendable { case samples, decline, deadline, hang }
        let answer: Answer
        let calls = Mutex<[String]>([])
        init(_ answer: Answer) { self.answer = answer }

        func instantQuery(_ expression: String, at time: Date) async throws -> [Sample] {
            calls.withLock { $0.append("plain") }
            if answer == .hang { try await Task.sleep(for: .seconds(600)) }
            return [Sample(labels: .empty, point: .init(timestampMillis: 0, value: 2))]
        }

        func instantQuery(_ expression: String, at time: Date, before deadline: ContinuousClock.Instant) async throws -> [Sample]? {
            calls.withLock { $0.append("bounded") }
            switch answer {
            case .samples: return [Sample(labels: .empty, point: .init(timestampMillis: 0, value: 1))]
            case .decline, .hang: return nil
            case .deadline: throw QueryDeadlineReached()
            }
        }
    }

    @Test("a datasource that bounds its own queries is asked to; one that declines is raced against the deadline; its deadline is the cycle's error")
    func paths() async throws {
        let soon = ContinuousClock.now + .seconds(600)
        let direct = Bounded(.samples)
        #expect(try await CycleDeadline(base: direct, deadline: soon, budget: .seconds(600)).instantQuery("x", at: Date()).first?.value == 1)
        #expect(direct.calls.withLock { $0 } == ["bounded"])

        let declining = Bounded(.decline)
        #expect(try await CycleDeadline(base: declining, deadline: soon, budget: .seconds(600)).instantQuery("x", at: Date()).first?.value == 2)
        #expect(declining.calls.withLock { $0 } == ["bounded", "plain"])

        let ended = Bounded(.deadline)
        await #expect(throws: CycleDeadlineExceeded.self) {
            try await CycleDeadline(base: ended, deadline: soon, budget: .seconds(600)).instantQuery("x", at: Date())
        }

        // Declined and hanging: the race ends it at the deadline.
        let hanging = Bounded(.hang)
        let start = ContinuousClock.now
        await #expect(throws: CycleDeadlineExceeded.self) {
            try await CycleDeadline(base: hanging, deadline: start + .milliseconds(300), budget: .milliseconds(300)).instantQuery("x", at: Date())
        }
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        #expect(ContinuousClock.now - start < .seconds(300), "not the hanging query's own 600 s")

        // Past the deadline nothing is asked.
        let late = Bounded(.samples)
        await #expect(throws: CycleDeadlineExceeded.self) {
            try await CycleDeadline(base: late, deadline: .now - .seconds(1), budget: .seconds(1)).instantQuery("x", at: Date())
        }
        #expect(late.calls.withLock { $0 }.isEmpty)
    }

    @Test("Prometheus that never answers: the transfer ends at the deadline (not the query timeout) and the rule fails with the deadline's error; a full limiter declines")
    func prometheus() async throws {
        try await withEchoServer { server async throws in
            let http = HTTPClient()
            let hanging = PrometheusDatasource(client: try PrometheusClient(baseURL: server.url("/hang"), http: http), timeout: .seconds(120),
                                               limiter: QueryLimiter(limit: 1), maxSeries: 100)
            let start = ContinuousClock.now
            let error = await #expect(throws: CycleDeadlineExceeded.self) {
                try await CycleDeadline(base: hanging, deadline: start + .seconds(1), budget: .seconds(1)).instantQuery("up", at: Date())
            }
            #expect(error?.description.contains("ran past its deadline (1.0 seconds after the cycle began)") == true, "\(String(describing: error))")
            let took = ContinuousClock.now - start
            #expect(took >= .milliseconds(950), "\(took)")
            // Progress, not speed: far below the 122 s the query timeout would allow.
            #expect(took < .seconds(60), "\(took)")

            // The query timeout, when it comes first, is Prometheus's error as before (not the deadline's).
            let short = PrometheusDatasource(client: try PrometheusClient(baseURL: server.url("/hang"), http: http), timeout: .milliseconds(100),
                                             limiter: nil, maxSeries: 100)
            await #expect(throws: PrometheusError.self) {
                _ = try await short.instantQuery("up", at: Date(), before: .now + .seconds(600))
            }

            // A free slot: the answer, through the bounded path.
            let answering = PrometheusDatasource(client: try PrometheusClient(baseURL: server.url("/series"), http: http), timeout: .seconds(30),
                                                 limiter: QueryLimiter(limit: 1), maxSeries: 100)
            #expect(try await answering.instantQuery("series_3", at: Date(), before: .now + .seconds(600))?.count == 3)

            // Every slot taken: declined at once (nil), the query not sent.
            let limiter = QueryLimiter(limit: 1)
            let full = PrometheusDatasource(client: try PrometheusClient(baseURL: server.url("/series"), http: http), timeout: .seconds(30),
                                            limiter: limiter, maxSeries: 100)
            let (held, release) = AsyncStream<Void>.makeStream()
            let holder = Task { try await limiter.run { for await _ in held {} } }
            while await limiter.running == 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(try await full.instantQuery("series_3", at: Date(), before: .now + .seconds(600)) == nil)
            release.finish()
            try await holder.value
            #expect(try await full.instantQuery("series_3", at: Date(), before: .now + .seconds(600))?.count == 3)
        }
    }
}
