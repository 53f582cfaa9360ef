import Foundation
import Logging
import MeshFixtures
import MeshHTTP
import MetricModel
import PromClient
@testable import RemoteWrite
import Synchronization
@testable import MeshWatchdCore
import Testing

/// Remote write 1.0 against Debian's Prometheus 2.42 (its receiver, `--web.enable-remote-write-receiver`)
/// and against a receiver that fails on purpose.
@Suite("Remote write: the protocol Prometheus reads back, retries, a bounded queue")
struct RemoteWriteTests {
    static let logger = Logger(label: "remote-write-test") { _ in SwiftLogNoOpLogHandler() }

    func sample(_ labels: [String: String], _ value: Double, at seconds: Double) -> Sample {
        Sample(labels: Labels(labels), point: SamplePoint(timestampMillis: Int64(seconds * 1000), value: value))
    }

    func queue(_ url: String, maxQueued: Int = 100_000, perSend: Int = 2_000) -> (RemoteWriteQueue, HTTPClient) {
        let http = HTTPClient(configuration: .init(connectTimeout: .seconds(2), timeout: .seconds(10)))
        let settings = RemoteWriteSettings(url: url, timeout: .seconds(10), maxQueuedSamples: maxQueued, maxSamplesPerSend: perSend,
                                           minBackoff: .milliseconds(10), maxBackoff: .milliseconds(50))
        return (RemoteWriteQueue(settings: settings, http: http, logger: Self.logger), http)
    }

    @Test("the body is a snappy block of a protobuf WriteRequest that decodes to the same samples, odd labels and the staleness NaN included")
    func roundTrip() throws {
        let odd = String(repeating: "é\u{0}\"\n{}", count: 2_000)
        let samples = [
            sample(["__name__": "a", "x": odd], .nan, at: 1),
            sample(["__name__": "a", "x": odd], .infinity, at: 2),
            sample(["__name__": "b"], -0.0, at: -1),
            Sample(labels: Labels(["__name__": "c"]), point: SamplePoint(timestampMillis: 5, value: WriteRequestEncoding.staleNaN)),
        ]
        let decoded = try WriteRequestEncoding.decode(WriteRequestEncoding.body(samples))
        #expect(decoded.map(\.labels) == samples.map(\.labels))
        #expect(decoded.map(\.point.timestampMillis) == samples.map(\.point.timestampMillis))
        #expect(decoded.map(\.value.bitPattern) == samples.map(\.value.bitPattern))
        // One TimeSeries per label set, its samples in order.
        #expect(WriteRequestEncoding.protobuf(samples).count < WriteRequestEncoding.protobuf(samples + samples.prefix(1)).count + 1)
        #expect(throws: Snappy.Failure.self) { try Snappy.uncompress([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]) }
        #expect(try Snappy.uncompress(Snappy.compress([])) == [])
    }

    @Test("Prometheus 2.42 reads back what was written, now and behind its backfilled blocks (out-of-order window), and a staleness marker ends a series at once")
    func readBack() async throws {
        let openMetrics = "# TYPE base gauge\n" + (0...20).map { "base 1 \($0 * 60)\n" }.joined() + "# EOF\n"
        try await withPrometheus(openMetrics: openMetrics, configuration: RemoteWriteReceiver.configuration,
                                 arguments: RemoteWriteReceiver.arguments) { server async throws in
            let (writer, http) = queue(server.url + "/api/v1/write")
            defer { http.shutdown() }
            let now = Date().timeIntervalSince1970.rounded(.down)
            try await writer.write([
                sample(["__name__": "recorded", "job": "a"], 5, at: 300),
                sample(["__name__": "recorded", "job": "a"], 6, at: 360),
                sample(["__name__": "recorded", "job": "now"], 7, at: now),
            ])
            let client = try PrometheusClient(baseURL: server.url, http: http)
            func value(_ query: String, at seconds: Double) async throws -> [Double] {
                guard case .vector(let samples) = try await client.query(query, at: Date(timeIntervalSince1970: seconds)).result else { return [] }
                return samples.map(\.value)
            }
            #expect(try await value("recorded{job=\"a\"}", at: 330) == [5])
            #expect(try await value("recorded{job=\"a\"}", at: 400) == [6])
            #expect(try await value("recorded{job=\"now\"}", at: now) == [7])
            // Without a marker the series would be seen for 5 minutes (the lookback); with one it ends.
            try await writer.write([Sample(labels: Labels(["__name__": "recorded", "job": "a"]),
                                           point: SamplePoint(timestampMillis: 420_000, value: WriteRequestEncoding.staleNaN))])
            #expect(try await value("recorded{job=\"a\"}", at: 419) == [6])
            #expect(try await value("recorded{job=\"a\"}", at: 421) == [])
            let counters = await writer.counters
            #expect(counters.samplesSent == 4 && counters.samplesDropped == 0 && counters.queuedSamples == 0)
        }
    }

    @Test("the drain's pause pauses in a cancelled task too (at shutdown the drain runs in one, and a cancelled sleep returns at once: a busy loop)")
    func pauseWhenCancelled() async {
        let took = await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            let start = ContinuousClock.now
            for _ in 0..<5 { await RemoteWriteQueue.pause(.milliseconds(20)) }
            return ContinuousClock.now - start
        }.value
        #expect(took >= .milliseconds(95), "\(took)")
    }

    @Test("a receiver that fails (503) is retried with backoff until it accepts; the write returns then, once")
    func retries() async throws {
        try await withEchoServer { server async throws in
            let (writer, http) = queue(server.url("/receiver?fail=3"))
            defer { http.shutdown() }
            try await writer.write([sample(["__name__": "x"], 1, at: 1)])
            let counters = await writer.counters
            #expect(counters.retries == 3 && counters.samplesSent == 1)
            let report = try JSONSerialization.jsonObject(with: Data(try await http.get(server.url("/deliveries")).body)) as? [String: Any]
            #expect((report?["attempts"] as? [String: Int])?[""] == 4)
            #expect((report?["delivered"] as? [String: Int])?[""] == 1)
            let headers = (report?["last"] as? [String: Any])?["headers"] as? [String: String]
            #expect(headers?["content-encoding"] == "snappy")
            #expect(headers?["content-type"] == "application/x-protobuf")
            #expect(headers?["x-prometheus-remote-write-version"] == "0.1.0")
        }
    }

    @Test("a refusal (400) is not retried: the write fails with the receiver's answer and the samples are counted as failed")
    func refused() async throws {
        try await withEchoServer { server async throws in
            let (writer, http) = queue(server.url("/receiver?status=400"))
            defer { http.shutdown() }
            let error = await #expect(throws: RemoteWriteError.self) { try await writer.write([sample(["__name__": "x"], 1, at: 1)]) }
            #expect(error?.kind == .refused)
            #expect(error?.description.contains("HTTP 400") == true, "\(error?.description ?? "")")
            let counters = await writer.counters
            #expect(counters.samplesFailed == 1 && counters.retries == 0 && counters.queuedSamples == 0)
        }
    }

    @Test("while the receiver is down the queue holds at most its bound (the batch in flight and the newest kept), dropping and counting the oldest; a caller that stops waiting leaves its samples queued, and they are sent when the receiver is back")
    func boundedQueue() async throws {
        try await withEchoServer { server async throws in
            let (writer, http) = queue(server.url("/receiver?fail=40"), maxQueued: 10)
            defer { http.shutdown() }
            let six = (0..<6).map { sample(["__name__": "x", "i": "\($0)"], 1, at: 1) }
            let first = Task { try await writer.write(six) }
            try await Task.sleep(for: .milliseconds(50))
            let second = Task { try await writer.write(six) }
            try await Task.sleep(for: .milliseconds(50))
            let third = Task { try await writer.write(six) }
            let dropped = await #expect(throws: RemoteWriteError.self) { try await second.value }
            #expect(dropped?.kind == .dropped)
            #expect(await writer.counters.samplesDropped == 6)
            #expect(await writer.queuedSamples == 12)
            // The first caller stops waiting: its batch stays queued and still goes out.
            first.cancel()
            await #expect(throws: CancellationError.self) { try await first.value }
            try await third.value
            #expect(await writer.queuedSamples == 0)
            #expect(await writer.counters.samplesSent == 12)
        }
    }
}

extension RemoteWriteTests {
    @Test("VictoriaMetrics, started with the flags the README gives and read_back_delay 2s, has a recorded sample searchable when the write returns")
    func victoriaMetricsReadBack() async throws {
        try await withVictoriaMetrics { server async throws in
            let (queue, http) = queue(server.url + "/api/v1/write")
            defer { http.shutdown() }
            let output = RemoteWriteOutput(queue: queue, readBackDelay: .seconds(2))
            let client = try PrometheusClient(baseURL: server.url, http: http)
            for round in 1...3 {
                let now = Date()
                let millis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
                let started = ContinuousClock.now
                try await output.write([Sample(labels: Labels(["__name__": "recorded_vm", "job": "a"]),
                                               point: SamplePoint(timestampMillis: millis, value: Double(round)))], readBack: true)
                #expect(ContinuousClock.now - started >= .seconds(2))
                guard case .vector(let samples) = try await client.query("recorded_vm", at: now).result else {
                    Issue.record("no vector")
                    return
                }
                #expect(samples.map(\.value) == [Double(round)], "round \(round): \(samples)")
            }
            // ALERTS need no read-back: no wait. (A delay far beyond any write on a busy machine makes
            // the difference plain without timing the write itself.)
            let patient = RemoteWriteOutput(queue: queue, readBackDelay: .seconds(120))
            let started = ContinuousClock.now
            try await patient.write([Sample(labels: Labels(["__name__": "ALERTS"]), point: SamplePoint(timestampMillis: 1, value: 1))], readBack: false)
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }
}
