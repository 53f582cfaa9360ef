import ArgumentParser
import Foundation
import Logging
import MeshAnalysis
import MetricModel
import Remediation

/// `meshwatchd analyze`: the guide's configuration mistakes, read from the Kubernetes API.
package struct AnalyzeCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Find the troubleshooting guide's mesh configuration mistakes before they break traffic.",
        discussion: """
            Reads the Kubernetes API with read-only GETs and LISTs (never a Secret unless named \
            with --read-secret) and reports each mistake with a stable code, the objects \
            involved, why it breaks traffic and the fix. `--list` shows every check. Exit \
            status: 0 nothing found (or only notes), 1 a warning or an error found, 3 the API \
            could not be read, 64 wrong arguments, 78 wrong configuration.
            """
    )

    @Option(help: "Configuration file (its kubernetes section and analyze settings).")
    var config: String?

    @OptionGroup var kubernetes: KubernetesOptions

    @Option(name: .customLong("namespace"), help: ArgumentHelp("Only this namespace (repeatable; default all).", valueName: "name"))
    var namespaces: [String] = []

    @OptionGroup var output: OutputOptions
    @OptionGroup var logging: LogLevelOptions

    @Option(name: .customLong("check"), help: ArgumentHelp("Only this check, by code or name (repeatable).", valueName: "code"))
    var checks: [String] = []

    @Option(help: ArgumentHelp("PERMISSIVE mTLS older than this is reported (default 7d).", valueName: "duration"))
    var permissiveMaxAge: String?

    @Option(name: .customLong("read-secret"), help: ArgumentHelp("A gateway TLS Secret meshwatchd may GET to check (repeatable).", valueName: "namespace/name"))
    var readSecrets: [String] = []

    @Flag(help: "List the checks and exit.")
    var list = false

    package func validate() throws {
        for check in checks where Self.check(check) == nil {
            throw ValidationError("--check: unknown check \"\(check)\"; known: \(AnalysisCheck.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let age = permissiveMaxAge, PrometheusDuration.parse(age).map({ $0 > .zero }) != true {
            throw ValidationError("--permissive-max-age: expected a duration such as 7d or 36h, got \"\(age)\"")
        }
        for name in namespaces where KubernetesName.labelProblem(name) != nil {
            throw ValidationError("--namespace: \"\(name)\" is not a namespace name")
        }
    }

    static func check(_ text: String) -> AnalysisCheck? {
        AnalysisCheck.allCases.first { $0.rawValue == text.uppercased() || $0.name == text }
    }

    package func run() async throws {
        if list {
            let checks = AnalysisCheck.allCases.map { ["code": $0.rawValue, "check": $0.name, "mesh": $0.mesh] }
            if output.format() != .table { return try JSONOutput.print(items: checks, as: output.format()) }
            print(TextTable.render([["CODE", "CHECK", "MESH"]] + checks.map { [$0["code"]!, $0["check"]!, $0["mesh"]!] }), terminator: "")
            return
        }
        logging.bootstrap()
        let logger = Logger(label: "meshwatchd")
        let configuration = try Configuration.forCommand(config)
        let client: KubernetesClient
        do {
            guard let made = try kubernetes.makeClient(configuration: configuration.kubernetes, environment: ProcessInfo.processInfo.environment,
                                                       logger: logger) else {
                throw ValidationError("no Kubernetes API: give --kubeconfig, --in-cluster, or kubernetes in the configuration")
            }
            client = made
        } catch let error as ValidationError { throw error } catch {
            FileHandle.standardError.write(Data("meshwatchd: Kubernetes: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var analyzer = Analyzer(now: Date())
        analyzer.only = Set(checks.compactMap(Self.check))
        if let age = permissiveMaxAge.flatMap(PrometheusDuration.parse) { analyzer.permissiveMaxAge = age }
        let report: AnalysisReport
        do {
            report = try await AnalysisReport.make(client, analyzer: analyzer, namespaces: namespaces.isEmpty ? nil : namespaces, readSecrets: readSecrets)
        } catch {
            FileHandle.standardError.write(Data("meshwatchd: analyze: the Kubernetes API could not be read: \(error)\n".utf8))
            throw ExitCode(3)
        }
        print(report.render(output.format()), terminator: "")
        if report.findings.contains(where: { $0.severity >= .warning }) { throw ExitCode(1) }
    }
}

/// What one analysis found, rendered the way every command renders (`--output`).
struct AnalysisReport: Sendable {
    var findings: [AnalysisFinding]
    var notInstalled: [String]

    static func make(_ client: KubernetesClient, analyzer: Analyzer, namespaces: [String]?, readSecrets: [String]) async throws -> AnalysisReport {
        let snapshot = try await ClusterSnapshot.read(client, scope: namespaces, readSecrets: readSecrets)
        return AnalysisReport(findings: analyzer.run(snapshot), notInstalled: snapshot.notInstalled.sorted())
    }

    /// A runbook's `analyze` step: the checks for the alert's namespace, one line per problem.
    static let step: @Sendable (KubernetesClient, AnalysisRequest) async throws -> AnalysisAnswer = { client, request in
        var analyzer = Analyzer(now: Date())
        for name in request.checks {
            guard let check = AnalyzeCommand.check(name) else { throw AnalysisReadError(description: "unknown check \(name)") }
            analyzer.only.insert(check)
        }
        let report = try await make(client, analyzer: analyzer, namespaces: request.namespace.map { [$0] }, readSecrets: [])
        let scope = request.namespace ?? "the cluster"
        let lines = [report.findings.isEmpty ? "no configuration problems in \(scope)" : "\(report.findings.count) configuration problems in \(scope)"]
            + report.findings.map { "\($0.code) \($0.severity.rawValue): \($0.message) — fix: \($0.fix)" }
        let data = (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(report.findings))) ?? .array([])
        return AnalysisAnswer(lines: lines, data: data)
    }

    func render(_ format: OutputFormat) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch format {
        case .jsonl:
            return findings.map { String(decoding: (try? encoder.encode($0)) ?? Data(), as: UTF8.self) + "\n" }.joined()
        case .json:
            encoder.outputFormatting.insert(.prettyPrinted)
            struct Document: Encodable { var findings: [AnalysisFinding]; var notInstalled: [String] }
            return String(decoding: (try? encoder.encode(Document(findings: findings, notInstalled: notInstalled))) ?? Data(), as: UTF8.self) + "\n"
        case .table:
            var out = ""
            if findings.isEmpty { out += "No configuration problems found.\n" }
            for finding in findings {
                out += "\(finding.severity.rawValue.uppercased()) \(finding.code) \(finding.check) (\(finding.mesh))\n"
                out += "  \(finding.message)\n"
                out += "  why: \(finding.explanation)\n"
                out += "  fix: \(finding.fix)\n"
                if let yaml = finding.fixYAML { out += yaml.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n") + "\n" }
                out += "\n"
            }
            if !notInstalled.isEmpty { out += "Not installed (their checks were skipped): \(notInstalled.joined(separator: ", "))\n" }
            let counts = AnalysisFinding.Severity.allCases.reversed().map { severity in "\(findings.filter { $0.severity == severity }.count) \(severity.rawValue)" }
            out += "\(findings.count) findings: \(counts.joined(separator: ", "))\n"
            return out
        }
    }
}
