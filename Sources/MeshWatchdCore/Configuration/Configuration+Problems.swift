import AlertEngine
import Remediation
import Foundation
import Incidents
import PromQL
import Logging

extension Configuration {
    /// Every problem of the values that decoding does not catch (durations, words, URLs,
    /// files, pack parameters), each with its key path.
    func problems(file: String, readingSinks: Bool = true) -> [ConfigurationError] {
        var found: [ConfigurationError] = []
        func duration(_ value: ConfigDuration?, _ keyPath: String) {
            guard let value else { return }
            if (value.value ?? .zero) <= .zero {
                found.append(ConfigurationError(file: file, keyPath: keyPath,
                                                message: "expected a positive duration such as 30s or 5m, got \"\(value)\""))
            }
        }
        duration(evaluationInterval, "evaluation_interval")
        if let syntax = promqlSyntax, Syntax(rawValue: syntax) == nil {
            found.append(ConfigurationError(file: file, keyPath: "promql_syntax",
                                            message: "expected \(Syntax.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")), got \"\(syntax)\""))
        }
        if let offset = ruleQueryOffset, offset.value == nil || offset.value! < .zero {
            found.append(ConfigurationError(file: file, keyPath: "rule_query_offset",
                                            message: "expected a duration such as 0s or 1m, got \"\(offset)\""))
        }
        duration(queryTimeout, "query_timeout")
        duration(shutdownTimeout, "shutdown_timeout")
        duration(listenIdleTimeout, "listen_idle_timeout")
        if let check = configCheckInterval, check.value == nil || check.value! < .zero {
            found.append(ConfigurationError(file: file, keyPath: "config_check_interval", message: "expected a duration such as 30s (0s: off), got \"\(check)\""))
        }
        duration(prometheus?.queryTimeout, "prometheus.query_timeout")
        duration(restore?.outageTolerance, "restore.outage_tolerance")
        duration(restore?.forGracePeriod, "restore.for_grace_period")
        duration(analyze?.interval, "analyze.interval")
        duration(analyze?.permissiveMaxAge, "analyze.permissive_max_age")
        for (index, check) in (analyze?.checks ?? []).enumerated() where AnalyzeCommand.check(check) == nil {
            found.append(ConfigurationError(file: file, keyPath: "analyze.checks[\(index)]",
                                            message: "unknown check \"\(check)\" (meshwatchd analyze --list shows them)"))
        }
        for (index, namespace) in (analyze?.namespaces ?? []).enumerated() where KubernetesName.labelProblem(namespace) != nil {
            found.append(ConfigurationError(file: file, keyPath: "analyze.namespaces[\(index)]", message: "\"\(namespace)\" is not a namespace name"))
        }
        if let severity = analyze?.minSeverity, !["info", "warning", "error"].contains(severity) {
            found.append(ConfigurationError(file: file, keyPath: "analyze.min_severity", message: "expected info, warning or error, got \"\(severity)\""))
        }
        if case .unknown(let level) = log?.level {
            found.append(ConfigurationError(file: file, keyPath: "log.level",
                                            message: "expected one of trace, debug, info, notice, warning, error, critical, got \"\(level)\""))
        }
        if case .unknown(let format) = log?.format {
            found.append(ConfigurationError(file: file, keyPath: "log.format", message: "expected auto, json, text or journald, got \"\(format)\""))
        }
        if case .unknown(let word) = recordingRules {
            found.append(ConfigurationError(file: file, keyPath: "recording_rules", message: "expected evaluate or skip, got \"\(word)\""))
        }
        if let remoteWrite {
            if let url = remoteWrite.url {
                if !(url.hasPrefix("http://") || url.hasPrefix("https://")) || URLComponents(string: url)?.host == nil {
                    found.append(ConfigurationError(file: file, keyPath: "remote_write.url", message: "expected an absolute http(s) URL"))
                }
            } else {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.url",
                                                message: "missing (e.g. http://prometheus:9090/api/v1/write)"))
            }
            duration(remoteWrite.timeout, "remote_write.timeout")
            if let delay = remoteWrite.readBackDelay, delay.value == nil || delay.value! < .zero || delay.value! > .seconds(60) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.read_back_delay",
                                                message: "expected a duration from 0s to 1m such as 2s, got \"\(delay)\""))
            }
            for (key, value) in [("max_queued_samples", remoteWrite.maxQueuedSamples), ("max_samples_per_send", remoteWrite.maxSamplesPerSend)] {
                if let value, value < 1 {
                    found.append(ConfigurationError(file: file, keyPath: "remote_write.\(key)", message: "expected 1 or more, got \(value)"))
                }
            }
            // As for prometheus: secret files are checked here, TLS files when the first request uses them.
            if let path = remoteWrite.bearerTokenFile, !FileManager.default.isReadableFile(atPath: path) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.bearer_token_file", message: "cannot read \(path)"))
            }
            for (name, path) in (remoteWrite.headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) where !FileManager.default.isReadableFile(atPath: path) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write.header_files.\(name)", message: "cannot read \(path)"))
            }
            if (remoteWrite.certFile == nil) != (remoteWrite.keyFile == nil) {
                found.append(ConfigurationError(file: file, keyPath: "remote_write", message: "cert_file and key_file go together"))
            }
        }
        if let url = prometheus?.url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) || URLComponents(string: url)?.host == nil {
            found.append(ConfigurationError(file: file, keyPath: "prometheus.url", message: "expected an absolute http(s) URL"))
        }
        for (name, path) in (prometheus?.headerFiles ?? [:]).sorted(by: { $0.key < $1.key }) where !FileManager.default.isReadableFile(atPath: path) {
            found.append(ConfigurationError(file: file, keyPath: "prometheus.header_files.\(name)", message: "cannot read \(path)"))
        }
        if let basic = prometheus?.basicAuth {
            if basic.username?.isEmpty ?? true {
                found.append(ConfigurationError(file: file, keyPath: "prometheus.basic_auth.username", message: "missing"))
            }
            if let path = basic.passwordFile {
                if !FileManager.default.isReadableFile(atPath: path) {
                    found.append(ConfigurationError(file: file, keyPath: "prometheus.basic_auth.password_file", message: "cannot read \(path)"))
                }
            } else {
                found.append(ConfigurationError(file: file, keyPath: "prometheus.basic_auth.password_file", message: "missing"))
            }
        }
        if prometheus?.basicAuth != nil && prometheus?.bearerTokenFile != nil {
            found.append(ConfigurationError(file: file, keyPath: "prometheus", message: "basic_auth and bearer_token_file exclude each other"))
        }
        if let path = prometheus?.bearerTokenFile, !FileManager.default.isReadableFile(atPath: path) {
            found.append(ConfigurationError(file: file, keyPath: "prometheus.bearer_token_file", message: "cannot read \(path)"))
        }
        var sinkNames: Set<String> = []
        for (index, sink) in (readingSinks ? sinks ?? [] : []).enumerated() {
            let path = "sinks[\(index)]"
            let name = sink.name ?? ""
            if name.isEmpty { found.append(ConfigurationError(file: file, keyPath: path + ".name", message: "missing")) }
            if !sinkNames.insert(name).inserted {
                found.append(ConfigurationError(file: file, keyPath: path + ".name", message: "\"\(name)\" is used by another sink"))
            }
            switch sink.type {
            case nil:
                found.append(ConfigurationError(file: file, keyPath: path + ".type", message: "missing (webhook, alertmanager, slack or pagerduty)"))
            case .unknown(let type)?:
                found.append(ConfigurationError(file: file, keyPath: path + ".type",
                                                message: "\"\(type)\" is not a sink type (webhook, alertmanager, slack, pagerduty are)"))
            case .known?:
                break
            }
            let kind = sink.type?.value
            duration(sink.repeatInterval, path + ".repeat_interval")
            for (matcherIndex, text) in (sink.matchers ?? []).enumerated() {
                do { _ = try LabelMatcher(parsing: text) } catch {
                    found.append(ConfigurationError(file: file, keyPath: "\(path).matchers[\(matcherIndex)]", message: "\(error)"))
                }
            }
            if let template = sink.template {
                do { _ = try MessageTemplate(template, name: path + ".template") } catch {
                    found.append(ConfigurationError(file: file, keyPath: path + ".template", message: "\(error)"))
                }
            }
            if let wait = sink.groupWait {
                if wait.value == nil {
                    found.append(ConfigurationError(file: file, keyPath: path + ".group_wait", message: "expected a duration such as 30s, got \"\(wait)\""))
                } else if kind != .slack {
                    found.append(ConfigurationError(file: file, keyPath: path + ".group_wait",
                                                    message: "only slack sinks group; other sinks take one finding per alert"))
                }
            }
            if kind == .pagerduty {
                if sink.routingKeyFile == nil {
                    found.append(ConfigurationError(file: file, keyPath: path + ".routing_key_file", message: "missing"))
                }
                if sink.url != nil && sink.urlFile != nil {
                    found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "give at most one of url and url_file"))
                }
            } else if kind == .alertmanager {
                if [sink.url != nil, sink.urlFile != nil, !(sink.urls ?? []).isEmpty].filter({ $0 }).count != 1 {
                    found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "give exactly one of url, url_file and urls"))
                }
            } else if (sink.url == nil) == (sink.urlFile == nil) {
                found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "give exactly one of url and url_file"))
            }
            func absolute(_ url: String) -> Bool { URLComponents(string: url)?.host != nil && (url.hasPrefix("http://") || url.hasPrefix("https://")) }
            if let url = sink.url, !absolute(url) {
                found.append(ConfigurationError(file: file, keyPath: path + ".url", message: "expected an absolute http(s) URL"))
            }
            for (urlIndex, url) in (sink.urls ?? []).enumerated() where !absolute(url) {
                found.append(ConfigurationError(file: file, keyPath: "\(path).urls[\(urlIndex)]", message: "expected an absolute http(s) URL"))
            }
            // The Prometheus client's options, for Alertmanager (Mimir, Grafana Cloud, TLS).
            let clientOptions: [(String, Bool)] = [("urls", sink.urls != nil), ("basic_auth", sink.basicAuth != nil), ("bearer_token_file", sink.bearerTokenFile != nil),
                                                   ("headers", sink.headers != nil), ("header_files", sink.headerFiles != nil), ("ca_file", sink.caFile != nil),
                                                   ("cert_file", sink.certFile != nil), ("key_file", sink.keyFile != nil),
                                                   ("insecure_skip_verify", sink.insecureSkipVerify != nil)]
            for (key, given) in clientOptions where given && kind != .alertmanager && kind != nil {
                found.append(ConfigurationError(file: file, keyPath: "\(path).\(key)", message: "only alertmanager sinks take it"))
            }
            if sink.basicAuth != nil && sink.bearerTokenFile != nil {
                found.append(ConfigurationError(file: file, keyPath: path + ".basic_auth", message: "give basic_auth or bearer_token_file, not both"))
            }
            if let basic = sink.basicAuth, basic.username == nil || basic.passwordFile == nil {
                found.append(ConfigurationError(file: file, keyPath: path + ".basic_auth", message: "needs username and password_file"))
            }
            if (sink.certFile == nil) != (sink.keyFile == nil) {
                found.append(ConfigurationError(file: file, keyPath: path + ".cert_file", message: "give cert_file and key_file together"))
            }
            var files = [("bearer_token_file", sink.bearerTokenFile), ("basic_auth.password_file", sink.basicAuth?.passwordFile), ("ca_file", sink.caFile),
                         ("cert_file", sink.certFile), ("key_file", sink.keyFile)]
            files += (sink.headerFiles ?? [:]).sorted { $0.key < $1.key }.map { ("header_files.\($0.key)", $0.value) }
            for (key, value) in files {
                if let value, !FileManager.default.isReadableFile(atPath: value) {
                    found.append(ConfigurationError(file: file, keyPath: "\(path).\(key)", message: "cannot read \(value)"))
                }
            }
            for (key, value) in [("url_file", sink.urlFile), ("secret_file", sink.secretFile), ("routing_key_file", sink.routingKeyFile)] {
                if let value, !FileManager.default.isReadableFile(atPath: value) {
                    found.append(ConfigurationError(file: file, keyPath: path + "." + key, message: "cannot read \(value)"))
                }
            }
        }
        if readingSinks { found += notificationProblems(file: file, sinkNames: sinkNames) }
        found += runbookProblems(file: file)
        found += remediationProblems(file: file)
        found += leaderElectionProblems(file: file)
        found += webProblems(file: file, readingFiles: readingSinks)
        if let limit = maxConcurrentQueries, !(1...256).contains(limit) {
            found.append(ConfigurationError(file: file, keyPath: "max_concurrent_queries", message: "expected 1 to 256, got \(limit)"))
        }
        if let limit = maxSeriesPerQuery, limit < 1 {
            found.append(ConfigurationError(file: file, keyPath: "max_series_per_query", message: "expected 1 or more, got \(limit)"))
        }
        if let address = listenAddress, ListenAddress(address) == nil {
            found.append(ConfigurationError(file: file, keyPath: "listen_address", message: "expected host:port such as 127.0.0.1:9819, got \"\(address)\""))
        }
        for (name, pack) in (packs ?? [:]).sorted(by: { $0.key < $1.key }) {
            do { _ = try PackSelection.expand(name: name, pack) } catch {
                found.append(ConfigurationError(file: file, keyPath: error.keyPath.map { "packs.\(name).\($0)" } ?? "packs.\(name)",
                                                message: error.message))
            }
        }
        return found
    }
}
