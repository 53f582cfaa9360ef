import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MeshHTTP
import MetricModel
import RemoteWrite

/// The engine's output on a remote-write queue: a write returns once acknowledged, and a
/// recording rule's (which the next rule of its group may query) `readBackDelay` later, for a
/// receiver that makes samples searchable a moment after it acknowledges them (VictoriaMetrics
/// flushes them about once a second; Prometheus needs no delay).
struct RemoteWriteOutput: SeriesWriting {
    let queue: RemoteWriteQueue
    let readBackDelay: Duration

    func write(_ samples: [Sample], readBack: Bool) async throws {
        try await queue.write(samples)
        if readBack && readBackDelay > .zero { try await Task.sleep(for: readBackDelay) }
    }
}

extension Configuration.RemoteWrite {
    /// The queue that writes to this receiver (one per daemon generation, or per one-shot command).
    /// The engine's output over a new queue.
    func makeOutput(logger: Logger) throws -> RemoteWriteOutput {
        RemoteWriteOutput(queue: try makeQueue(logger: logger), readBackDelay: readBackDelay?.value ?? .zero)
    }

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
