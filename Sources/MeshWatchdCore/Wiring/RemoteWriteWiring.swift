import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MeshHTTP
import MetricModel
import RemoteWrite
import Synchronization

/// The engine's output on a remote-write queue: a write returns once acknowledged, and a
/// recording rule's (which the next rule of its group may query) `readBackDelay` later, for a
/// receiver that makes samples searchable a moment after it acknowledges them (VictoriaMetrics
/// flushes them about once a second; Prometheus needs no delay).
struct RemoteWriteOutput: SeriesWriting {
    let queue: RemoteWriteQueue
    let readBackDelay: Duration
    /// How long a write waits to be acknowledged (the rules after it may query it: a recording
    /// rule's series, ALERTS): past it the write fails for the cycle (its samples stay queued) and
    /// the group goes on; an outage of the receiver never stops evaluation.
    var acknowledgementTimeout: Duration = ConfigurationDefaults.remoteWriteTimeout

    func write(_ samples: [Sample], readBack: Bool) async throws {
        // While the receiver fails, nothing waits for it: the samples are queued and the rule is
        // told at once, so an outage costs evaluation one wait at most, not one per rule.
        if await queue.isFailing {
            await queue.enqueue(samples)
            throw RemoteWriteError(kind: .notAcknowledged, message:
                "remote write failing; samples queued (\(await queue.queuedSamples) wait)")
        }
        let queue = queue, limit = acknowledgementTimeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await queue.write(samples) }
            group.addTask {
                try await Task.sleep(for: limit)
                throw RemoteWriteError(kind: .notAcknowledged, message:
                    "remote write not acknowledged within \(PrometheusDuration.format(limit)) (the samples stay queued; \(await queue.queuedSamples) samples wait)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        if readBack && readBackDelay > .zero { try await Task.sleep(for: readBackDelay) }
    }
}

/// The daemon's remote-write output, kept across reloads while `remote_write` stays the same:
/// what waits in the queue is still sent, and in order (a second queue would race the first
/// with newer samples of the same series, which the receiver then refuses as out of order).
enum RemoteWriteOutputs {
    private static let current = Mutex<(settings: Configuration.RemoteWrite, headers: [String: Data?], output: RemoteWriteOutput)?>(nil)

    static func output(for settings: Configuration.RemoteWrite, acknowledgementTimeout: Duration, logger: Logger) throws -> RemoteWriteOutput {
        // A header file rewritten before a reload (a rotated credential) makes a new queue too.
        let headers = (settings.headerFiles ?? [:]).mapValues { FileManager.default.contents(atPath: $0) }
        return try current.withLock { current in
            if let current, current.settings == settings, current.headers == headers {
                var output = current.output
                output.acknowledgementTimeout = acknowledgementTimeout
                return output
            }
            // The queue being replaced gets a while to send what it holds, then stops.
            if let previous = current?.output.queue {
                Task {
                    try? await Task.sleep(for: .seconds(30))
                    await previous.stop()
                }
            }
            var output = try settings.makeOutput(logger: logger)
            output.acknowledgementTimeout = acknowledgementTimeout
            current = (settings, headers, output)
            return output
        }
    }
}

extension Configuration.RemoteWrite {
    /// The engine's output over a new queue (one per one-shot command; the daemon's through
    /// `RemoteWriteOutputs`).
    func makeOutput(logger: Logger) throws -> RemoteWriteOutput {
        RemoteWriteOutput(queue: try makeQueue(logger: logger), readBackDelay: readBackDelay?.value ?? .zero)
    }

    /// The queue that writes to this receiver.
    func makeQueue(logger: Logger) throws -> RemoteWriteQueue {
        guard let url else { throw ValidationError("remote_write.url: missing") }
        let timeout = timeout?.value ?? ConfigurationDefaults.remoteWriteTimeout
        let http = HTTPClient(configuration: HTTPClientConfiguration(
            timeout: timeout,
            tls: .init(caFile: caFile, certificateFile: certFile, keyFile: keyFile, insecureSkipVerify: insecureSkipVerify ?? false),
            authentication: bearerTokenFile.map { .bearerTokenFile($0) } ?? .none,
            proxy: .fromEnvironment(ProcessInfo.processInfo.environment)
        ), logger: logger)
        var settings = RemoteWriteSettings(url: url, timeout: timeout,
                                           maxQueuedSamples: maxQueuedSamples ?? ConfigurationDefaults.remoteWriteMaxQueuedSamples,
                                           maxSamplesPerSend: maxSamplesPerSend ?? ConfigurationDefaults.remoteWriteMaxSamplesPerSend)
        settings.headers = (headers ?? [:]).sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        for (name, path) in (headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("remote_write.header_files.\(name): cannot read \(path)")
            }
            settings.headers.append((name, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return RemoteWriteQueue(settings: settings, http: http, logger: logger)
    }
}
