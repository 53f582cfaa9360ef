import AlertEngine
import Foundation
import Synchronization
import Incidents
import Logging
import MeshHTTP

/// A sink from the configuration with the findings it takes.
struct ConfiguredSink: Sendable {
    let name: String
    let sink: any FindingSink
    let alerts: Set<String>
    let severities: Set<String>
    /// Its own repeat interval, if any (Alertmanager's resend).
    let repeatInterval: Duration?
    var matchers: [LabelMatcher] = []
    var continueMatching = true

    /// One HTTP client (one transfer thread, one connection cache) for every sink of every
    /// generation: a reload does not add threads, and sinks do not each hold one.
    static let http = HTTPClient(configuration: .init(timeout: .seconds(10), proxy: .fromEnvironment(ProcessInfo.processInfo.environment)))

    /// Clients with TLS or authentication of their own, by their settings: a reload with the same
    /// settings reuses the client (and its one transfer thread) instead of adding one.
    private static let clients = Mutex<[String: HTTPClient]>([:])

    static func client(tls: HTTPClientConfiguration.TLS, authentication: HTTPClientConfiguration.Authentication) -> HTTPClient {
        if tls.caFile == nil && tls.certificateFile == nil && tls.keyFile == nil && !tls.insecureSkipVerify, case .none = authentication { return http }
        let key = "\(tls)|\(authentication)"
        return clients.withLock { clients in
            if let existing = clients[key] { return existing }
            let made = HTTPClient(configuration: .init(timeout: .seconds(10), tls: tls, authentication: authentication,
                                                       proxy: .fromEnvironment(ProcessInfo.processInfo.environment)))
            clients[key] = made
            return made
        }
    }

    /// Alertmanager's resend when none is configured: Prometheus's `resend-delay`.
    static let alertmanagerResend = Duration.seconds(60)

    /// Builds the sinks of a configuration; URL and secret files are read here. `longestInterval`
    /// is the longest group interval, for how long an alert sent to Alertmanager stays valid.
    static func build(_ sinks: [Configuration.Sink], longestInterval: Duration = .seconds(60), externalURL: String = "",
                      logger: Logger) throws -> [ConfiguredSink] {
        try sinks.enumerated().map { index, sink in
            func read(_ path: String, _ key: String) throws -> String {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigurationError(file: "", keyPath: "sinks[\(index)].\(key)", message: "cannot read \(path)")
                }
                return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let url = try sink.url ?? sink.urlFile.map { try read($0, "url_file") }
            let name = sink.name ?? "sink\(index)"
            let built: any FindingSink
            var repeatInterval = sink.repeatInterval?.value
            var template: MessageTemplate?
            if let source = sink.template {
                do { template = try MessageTemplate(source, name: "sinks[\(index)].template", externalURL: externalURL) } catch {
                    throw ConfigurationError(file: "", keyPath: "sinks[\(index)].template", message: "\(error)")
                }
            }
            switch sink.type?.value {
            case nil:  // refused by Configuration.problems before a sink is built
                throw ConfigurationError(file: "", keyPath: "sinks[\(index)].type", message: "missing")
            case .alertmanager:
                let resend = repeatInterval ?? alertmanagerResend
                repeatInterval = resend
                var headers = (sink.headers ?? [:]).sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
                for (header, path) in (sink.headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) {
                    headers.append((header, try read(path, "header_files.\(header)")))
                }
                var authentication = HTTPClientConfiguration.Authentication.none
                if let path = sink.bearerTokenFile { authentication = .bearerTokenFile(path) }
                if let basic = sink.basicAuth, let username = basic.username, let path = basic.passwordFile {
                    authentication = .basic(username: username, password: try read(path, "basic_auth.password_file"))
                }
                let tls = HTTPClientConfiguration.TLS(caFile: sink.caFile, certificateFile: sink.certFile, keyFile: sink.keyFile,
                                                      insecureSkipVerify: sink.insecureSkipVerify ?? false)
                if tls.insecureSkipVerify { logger.warning("Alertmanager certificate checks are off (insecure_skip_verify)", metadata: ["sink": "\(name)"]) }
                built = AlertmanagerSink(name: name, urls: sink.urls ?? [url ?? ""], validFor: max(resend, longestInterval) * 4, headers: headers,
                                         template: template, http: client(tls: tls, authentication: authentication))
            case .slack:
                let wait = sink.groupWait?.value ?? ConfigurationDefaults.groupWait
                built = SlackSink(name: name, url: url ?? "", groupWait: wait > .zero ? wait : nil, template: template, http: http)
            case .pagerduty:
                let key = try read(sink.routingKeyFile ?? "", "routing_key_file")
                built = url.map { PagerDutySink(name: name, routingKey: key, url: $0, template: template, http: http) }
                    ?? PagerDutySink(name: name, routingKey: key, template: template, http: http)
            case .webhook:
                built = WebhookSink(name: name, url: url ?? "", secret: try sink.secretFile.map { try read($0, "secret_file") }, template: template,
                                    http: http)
            }
            var matchers: [LabelMatcher] = []
            for (matcherIndex, text) in (sink.matchers ?? []).enumerated() {
                do { matchers.append(try LabelMatcher(parsing: text)) } catch {
                    throw ConfigurationError(file: "", keyPath: "sinks[\(index)].matchers[\(matcherIndex)]", message: "\(error)")
                }
            }
            return ConfiguredSink(name: name, sink: built, alerts: Set(sink.alerts ?? []), severities: Set(sink.severities ?? []),
                                  repeatInterval: repeatInterval, matchers: matchers, continueMatching: sink.continue ?? true)
        }
    }
}

