import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MeshHTTP
import RemoteWrite

extension RemoteWriteQueue: SeriesWriting {}

extension Configuration.RemoteWrite {
    /// The queue that writes to this receiver (one per daemon generation, or per one-shot command).
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
