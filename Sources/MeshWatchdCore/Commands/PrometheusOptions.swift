import ArgumentParser
import Foundation
import Logging
import MeshHTTP
import PromClient

/// How to reach Prometheus: shared by every command that queries it.
struct PrometheusOptions: ParsableArguments {
    @Option(name: [.customLong("prometheus-url"), .customLong("prometheus")],
            help: "Prometheus base URL, with any path prefix (http://host:9090/prometheus).")
    var url: String?

    @Option(name: .customLong("header"), help: ArgumentHelp("Extra request header, e.g. 'X-Scope-OrgID: team-a' (repeatable).",
                                                            valueName: "name: value"))
    var headers: [String] = []

    @Option(help: "File holding a bearer token; re-read when it changes.")
    var bearerTokenFile: String?

    @Option(help: "PEM file of the CAs that sign Prometheus's certificate.")
    var caFile: String?

    @Option(help: "PEM client certificate for mutual TLS.")
    var certFile: String?

    @Option(help: "PEM key of the client certificate.")
    var keyFile: String?

    @Flag(help: "Do not verify Prometheus's TLS certificate (logged as a warning).")
    var insecureSkipVerify = false

    @Option(help: "Per-query timeout in seconds.")
    var queryTimeout: Double = 10

    func validate() throws {
        for header in headers where !header.contains(":") {
            throw ValidationError("--header must look like 'Name: value', got '\(header)'")
        }
        guard queryTimeout > 0 else { throw ValidationError("--query-timeout must be positive") }
        if (certFile == nil) != (keyFile == nil) {
            throw ValidationError("--cert-file and --key-file go together")
        }
    }

    var timeout: Duration { .milliseconds(Int64(queryTimeout * 1000)) }

    /// A client for `url`, or for the configuration's Prometheus where the flags are silent.
    func makeClient(logger: Logger, configuration: Configuration.Prometheus? = nil) throws -> PrometheusClient {
        guard let url = url ?? configuration?.url else {
            throw ValidationError("no Prometheus: give --prometheus URL or a --config with prometheus.url")
        }
        var parsedHeaders = (configuration?.headers ?? [:]).sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        for (name, path) in (configuration?.headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("prometheus.header_files.\(name): cannot read \(path)")
            }
            parsedHeaders.append((name, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        var authentication = HTTPClientConfiguration.Authentication.none
        if let basic = configuration?.basicAuth, let username = basic.username, let path = basic.passwordFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("prometheus.basic_auth.password_file: cannot read \(path)")
            }
            authentication = .basic(username: username,
                                    password: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        parsedHeaders += headers.map { header -> (name: String, value: String) in
            let parts = header.split(separator: ":", maxSplits: 1)
            return (String(parts[0]).trimmingCharacters(in: .whitespaces),
                    parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : "")
        }
        let tokenFile = bearerTokenFile ?? configuration?.bearerTokenFile
        let httpConfiguration = HTTPClientConfiguration(
            timeout: timeout + .seconds(5),
            tls: .init(caFile: caFile ?? configuration?.caFile, certificateFile: certFile ?? configuration?.certFile,
                       keyFile: keyFile ?? configuration?.keyFile,
                       insecureSkipVerify: insecureSkipVerify || (configuration?.insecureSkipVerify ?? false)),
            authentication: tokenFile.map { .bearerTokenFile($0) } ?? authentication,
            proxy: .fromEnvironment(ProcessInfo.processInfo.environment)
        )
        do {
            return try PrometheusClient(baseURL: url, headers: parsedHeaders,
                                        http: HTTPClient(configuration: httpConfiguration, logger: logger))
        } catch {
            throw ValidationError("--prometheus-url: \(error.message)")
        }
    }
}
