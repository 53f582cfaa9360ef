import AlertEngine
import ArgumentParser
import Foundation
import Incidents
import Logging
import MeshHTTP
import MetricModel
import Remediation

/// `meshwatchd check-config`: everything `run` would refuse, listed at once.
package struct CheckConfigCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and rule files and list every problem.",
        discussion: """
            Without --connect nothing is contacted. With --connect, Prometheus (the query 1 through its prefix and headers), the \
            Kubernetes API (/version) and each sink are reached for reachability only: DNS, TLS and \
            an HTTP status from a GET (Alertmanager's /-/ready; a webhook, Slack or PagerDuty URL \
            answers a GET with some status); nothing is posted, nobody is paged.

            Exit status: 0 valid (and, with --connect, everything reached), 1 valid but something \
            could not be reached, 78 something is wrong (each problem on its own line, with file \
            and key path or line).
            """
    )

    @Option(help: "Configuration file.")
    var config: String

    @Flag(help: "Also reach Prometheus, the Kubernetes API and every sink (reachability only; nothing is posted).")
    var connect = false

    @OptionGroup(title: "Output (json: {file, valid, rules, groups, problems, warnings, connect})") var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    package func run() async throws {
        logging.bootstrap()
        let format = output.format()
        let (configuration, found) = Configuration.check(path: config)
        var problems = found.map(\.description)
        var warnings: [String] = []
        var notes: [String] = []
        var groups = 0, rules = 0
        if let configuration {
            let files = configuration.ruleFiles ?? []
            if !files.isEmpty {
                do {
                    let loaded = try RuleFileLoader.load(paths: files, syntax: configuration.syntax,
                                                     recordingRules: configuration.recordingRulePolicy)
                    groups += loaded.groups.count
                    rules += loaded.groups.reduce(0) { $0 + $1.rules.count }
                    warnings += loaded.warnings.map { "\($0)" }
                } catch {
                    problems += error.problems.map(\.description)
                }
            }
            // A pack with a wrong parameter is reported above; it still counts as rules configured.
            for (name, pack) in (configuration.packs ?? [:]) where pack.enabled ?? true {
                groups += 1
                rules += (try? PackSelection.expand(name: name, pack))?.definitions.count ?? 0
            }
            if configuration.prometheus?.url == nil { problems.append("\(config): prometheus.url: missing") }
            if groups == 0 { problems.append("\(config): no rules: set rule_files or enable a pack (packs.istio, packs.linkerd, packs.cilium)") }
        }
        var document: [String: Any] = ["file": config, "valid": problems.isEmpty, "rules": rules, "groups": groups, "problems": problems]
        var connected = true
        if problems.isEmpty {
            // Never the token or header values: only what they are.
            let prometheus = configuration?.prometheus
            notes.append("\(config): valid: \(rules) rules in \(groups) groups; Prometheus \(prometheus?.url.map(Self.redacted) ?? "-")"
                         + (connect ? "" : " (not contacted: --connect reaches it)")
                         + (prometheus?.bearerTokenFile != nil ? ", bearer token from a file" : "")
                         + ((prometheus?.headers?.isEmpty ?? true) ? "" : ", headers \(prometheus!.headers!.keys.sorted().joined(separator: ", ")) (values hidden)"))
            document["prometheus"] = prometheus?.url.map(Self.redacted)
            if configuration?.sinks?.isEmpty ?? true {
                warnings.append("no sinks: findings go nowhere; runbooks and remediation still run and record their decisions in the ledger (meshwatchd ledger)")
            }
            if let remediation = configuration?.remediation, let mode = remediation.mode?.value, mode != .off {
                notes.append("remediation: \(mode.rawValue); kill switch file \(remediation.killSwitchFile ?? "none")"
                             + "; \(remediation.rules?.count ?? 0) user rules opted in (the built-in packs' rules always are)")
                document["remediation"] = mode.rawValue
            }
            if format == .table {
                for note in notes.prefix(1) { print(note) }
                for warning in warnings { print("warning: \(warning)") }
                for note in notes.dropFirst() { print(note) }
            }
            if connect, let configuration {
                var reached: [[String: Any]] = []
                connected = await Self.reach(configuration, file: config) { target, outcome, ok in
                    if format == .table { print("connect: \(target): \(outcome)") }
                    reached.append(["target": target, "outcome": outcome, "ok": ok])
                }
                document["connect"] = reached
            }
        } else if format == .table {
            for warning in warnings { print("warning: \(warning)") }
        }
        document["warnings"] = warnings
        switch format {
        case .table:
            for problem in problems { FileHandle.standardError.write(Data((problem + "\n").utf8)) }
            if !problems.isEmpty { FileHandle.standardError.write(Data("\(problems.count) problem\(problems.count == 1 ? "" : "s") found\n".utf8)) }
        case .json: print(try JSONOutput.document(document))
        case .jsonl: print(try JSONOutput.line(document))
        }
        if !problems.isEmpty { throw ExitCode(78) }
        if !connected { throw ExitCode(1) }
    }

    /// The URL without user info, query or fragment (where keys and tokens hide).
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<url hidden>" }
        components.user = nil
        components.password = nil
        if components.query != nil { components.query = "<hidden>" }
        components.fragment = nil
        return components.string ?? "<url hidden>"
    }

    // MARK: - --connect

    /// Reaches everything the configuration names; tells `note` each outcome; true when all answered.
    static func reach(_ configuration: Configuration, file: String,
                      note: (_ target: String, _ outcome: String, _ ok: Bool) -> Void) async -> Bool {
        let logger = Logger(label: "meshwatchd.check-config")
        var reached = true
        func report(_ what: String, _ outcome: String, ok: Bool) {
            note(what, outcome, ok)
            if !ok { reached = false }
        }
        if let prometheus = try? PrometheusOptions.parse([]).makeClient(logger: logger, configuration: configuration.prometheus) {
            // The query API itself, with the configured prefix, headers and credentials: /-/ready
            // is Prometheus's alone (Mimir has none under its prefix) and proves no tenant or token.
            let problem = await prometheus.queryProblem(timeout: .seconds(10))
            report("Prometheus \(redacted(configuration.prometheus?.url ?? ""))",
                   problem.map { "does not answer queries: \($0)" } ?? "answers queries (the query 1 through /api/v1/query)", ok: problem == nil)
        }
        if configuration.kubernetes != nil {
            do {
                if let client = try KubernetesOptions.parse([]).makeClient(configuration: configuration.kubernetes,
                                                                  environment: ProcessInfo.processInfo.environment, logger: logger) {
                    let version = try await client.get(JSONValue.self, "/version")
                    var text = "reachable"
                    if case .object(let object) = version, case .string(let git)? = object["gitVersion"] { text += ", Kubernetes \(git)" }
                    report("Kubernetes API", text, ok: true)
                }
            } catch {
                report("Kubernetes API", "not reachable: \(error)", ok: false)
            }
        }
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        for (index, sink) in (configuration.sinks ?? []).enumerated() {
            let name = "sink \(sink.name ?? "sink\(index)") (\(sink.type?.value?.rawValue ?? "?"))"
            var targets: [(url: String, secret: Bool)] = []
            if let url = sink.url {
                targets.append((url, sink.type?.value != .alertmanager && sink.type?.value != .webhook))
            } else if let path = sink.urlFile {
                let full = path.hasPrefix("/") ? path : directory + "/" + path
                if let data = FileManager.default.contents(atPath: full) {
                    targets.append((String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), true))
                }
            }
            for url in sink.urls ?? [] { targets.append((url, false)) }
            if sink.type?.value == .pagerduty && targets.isEmpty { targets.append(("https://events.pagerduty.com/v2/enqueue", false)) }
            for target in targets {
                var url = target.url
                if sink.type?.value == .alertmanager { url = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/-/ready" }
                let shown = target.secret ? redactedToHost(url) : redacted(url)
                do {
                    // A GET only: a webhook, Slack or PagerDuty endpoint answers it with some status, and pages nobody.
                    let response = try await ConfiguredSink.http.execute(HTTPRequest(url: url, headers: [("User-Agent", "meshwatchd check-config")],
                                                                                     timeout: .seconds(10), urlIsSecret: target.secret))
                    let alertmanager = sink.type?.value == .alertmanager
                    report("\(name) \(shown)", "reachable, HTTP \(response.status) to a GET" + (alertmanager && !response.isSuccess ? " (not ready)" : ""),
                           ok: !alertmanager || response.isSuccess)
                } catch {
                    report("\(name) \(shown)", "not reachable: \(error)", ok: false)
                }
            }
        }
        return reached
    }

    /// Scheme, host and port only (a URL that holds a key in its path).
    static func redactedToHost(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return "<url hidden>" }
        return "\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")/<hidden>"
    }
}
