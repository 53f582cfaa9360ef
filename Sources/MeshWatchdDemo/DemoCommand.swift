import GoTemplate
import AlertEngine
import ArgumentParser
import Foundation
import Incidents
import Logging
import MeshFixtures
import MeshHTTP
import MeshWatchdCore
import MetricModel
import PromClient
import Remediation

/// `meshwatchd-demo`: the whole story on generated data, in well under two minutes: an Istio
/// incident in a real Prometheus, its cluster in the Kubernetes double, a webhook receiver, and
/// meshwatchd replaying the incident (alerts, runbooks, remediation in dry-run, findings).
@main
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshwatchd-demo",
        abstract: "Replay a generated Istio (or Linkerd) incident through meshwatchd: alerts, evidence, remediation (dry-run), findings.",
        discussion: """
            Needs Debian's prometheus package (prometheus and promtool) and python3. Writes an \
            hour of synthetic Istio metrics in which reviews gets a bad rollout (5xx to 12 %), \
            ratings slows down, checkout overflows its connection pool, details runs partly \
            without sidecars and the gateway certificate nears expiry; backfills them into a \
            Prometheus on 127.0.0.1; starts the Kubernetes API double with the matching cluster \
            (deployments, the reviews rollout, pods, events) and a local webhook receiver; then \
            replays the incident every 30 s with the built-in Istio pack: each alert going \
            pending and firing, its runbook's evidence, the remediation decision with the guard \
            that made it (dry-run: nothing is written), and the findings the receiver got, saved \
            as JSON under --output. Everything it started is stopped at the end.
            """
    )

    @Option(help: "Where the received findings are saved (default: a new directory under the temporary directory).")
    var output: String?

    @Option(help: ArgumentHelp("Whose incident: istio (default) or linkerd (the same incident in Linkerd's metrics, with the Linkerd pack).",
                               valueName: "mesh"))
    var mesh = "istio"

    @Option(help: "Path of the prometheus binary.")
    var prometheusBinary = "/usr/bin/prometheus"

    @Option(help: "Path of the promtool binary.")
    var promtoolBinary = "/usr/bin/promtool"

    func validate() throws {
        guard ["istio", "linkerd"].contains(mesh) else { throw ValidationError("--mesh: expected istio or linkerd, got \"\(mesh)\"") }
        for binary in [prometheusBinary, promtoolBinary] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw ValidationError("\(binary) not found: install Debian's prometheus package (make run does)")
        }
    }

    func run() async throws {
        bootstrapLogging(level: .error)
        let logger = Logger(label: "meshwatchd.demo")
        let scenario = mesh == "linkerd" ? MeshScenario.linkerdIncident() : MeshScenario.incident()
        let title = mesh == "linkerd" ? "Linkerd" : "Istio"
        let out = Output()
        let findingsDirectory = output ?? (NSTemporaryDirectory() + "meshwatchd-demo-" + String(UUID().uuidString.prefix(8)).lowercased())
        try FileManager.default.createDirectory(atPath: findingsDirectory, withIntermediateDirectories: true)

        out.line("meshwatchd-demo: \(mesh == "istio" ? "an" : "a") \(title) incident, replayed through meshwatchd (remediation in dry-run)\n")
        out.progress("[1/4] generating \(scenario.services.count) services × 60 min of \(title) metrics; backfilling them into Prometheus")
        let openMetrics = scenario.openMetrics()
        try await withPrometheus(openMetrics: openMetrics, prometheus: prometheusBinary, promtool: promtoolBinary) { prometheus async throws in
            out.progress("      Prometheus ready at \(prometheus.url) (\(openMetrics.utf8.count / 1024) KiB of samples)")
            out.progress("[2/4] starting the Kubernetes API double with the incident's cluster")
            try await withKubernetes(seed: scenario.kubernetesSeed()) { double async throws in
                out.progress("      Kubernetes API double at \(double.url): 8 deployments; reviews rolled out bookinfo/reviews:1.19 at "
                             + Self.clock(scenario.start.addingTimeInterval(38 * 60)))
                out.progress("[3/4] starting a webhook receiver; findings are saved under \(findingsDirectory)")
                try await withEchoServer { receiver async throws in
                    out.progress("      receiver at \(receiver.url("/receiver"))")
                    out.progress("[4/4] replaying \(Self.clock(scenario.start.addingTimeInterval(30 * 60)))–\(Self.clock(scenario.evaluationTime)) every 30 s\n")
                    let story = try await replay(scenario, prometheus: prometheus, double: double, receiver: receiver, out: out, logger: logger)
                    let saved = try await save(receiver, to: findingsDirectory)

                    if mesh == "istio" {
                        let client = try PrometheusClient(baseURL: prometheus.url, http: HTTPClient())
                        let report = try await MeshHealthCheck().run(client, at: scenario.evaluationTime)
                        out.line("\nThe daily health check at the height of the incident:\n")
                        out.line(report.renderTable(source: "\(prometheus.url) (demo data)"))
                    }
                    out.line("""

                        Summary: \(story.fired.count) alerts fired (\(story.fired.joined(separator: ", "))); \
                        \(story.decisions.count) remediation decisions (\(story.decisions.joined(separator: "; "))); \
                        nothing was written to the cluster (dry-run); \(saved) findings received and saved under \(findingsDirectory)
                        """)
                }
            }
        }
        out.progress("Prometheus, the Kubernetes double and the receiver are stopped; nothing is left running")
    }

    struct Story {
        var fired: [String] = []
        var decisions: [String] = []
    }

    /// The daemon's pipeline, stepped through the incident's time: evaluate, notify, diagnose, decide.
    private func replay(_ scenario: MeshScenario, prometheus: PrometheusServer, double: KubernetesDouble, receiver: EchoServer,
                        out: Output, logger: Logger) async throws -> Story {
        var options = try RuleSourceOptions.parse(["--pack", mesh, "--set", "interval=30s"])
        options.config = nil
        let resolved = try options.resolve()
        let client = try PrometheusClient(baseURL: prometheus.url, http: HTTPClient())
        let datasource = PrometheusDatasource(client: client, timeout: .seconds(10))
        let kubernetes = KubernetesClient(connection: .init(server: double.url))
        let runner = RunbookRunner.make(prometheus: client, kubernetes: kubernetes, execAllow: [], context: resolved.context)
        var policy = RemediationPolicy()
        policy.mode = .dryRun
        // The demo's world: it leads, remembers nothing, and sees the replay's firings.
        let firing = FiringAlerts()
        let remediator = Remediator(world: ClusterWorld(client: kubernetes, policy: policy, firing: firing, leadership: Leadership(leading: true),
                                                        mode: LiveMode(policy.mode)),
                                    policy: policy, ledger: InMemoryLedger())
        let catalog = Runbook.catalog(PackSelection.builtInRunbooks, definitions: [])
        let sink = WebhookSink(name: "demo-webhook", url: receiver.url("/receiver"), secret: nil, http: HTTPClient())
        let planner = NotificationPlanner(policy: EscalationPolicy(), routes: [SinkRoute(name: "demo-webhook")])
        var engine = RuleEngine(groups: resolved.groups, context: resolved.context)
        var story = Story()
        // Room for the pack's longest alert name (Istio's fit the 25 columns the story always had).
        let width = max(25, (resolved.groups.flatMap(\.rules).map(\.name.count).max() ?? 0) + 1)
        var time = scenario.start.addingTimeInterval(30 * 60)
        while time <= scenario.evaluationTime {
            let transitions = await engine.evaluateAll(at: time, using: datasource, logger: logger)
            let plan = planner.plan(transitions, at: time)
            for transition in transitions {
                let labels = Dictionary(uniqueKeysWithValues: transition.instance.labels.map { ($0.name, $0.value) })
                let subject = Self.subject(labels)
                let value = transition.instance.annotations["summary"] ?? GoFormat.float(transition.instance.value)
                switch transition.kind {
                case .pending:
                    out.line("\(Self.clock(time))  PENDING  \(transition.rule.padding(toLength: width, withPad: " ", startingAt: 0)) \(subject): \(value)")
                case .firing:
                    story.fired.append(transition.rule)
                    out.line("\(Self.clock(time))  FIRING   \(transition.rule.padding(toLength: width, withPad: " ", startingAt: 0)) \(subject)")
                    guard var finding = plan.outgoing.first(where: { $0.kind == .firing && $0.alertName == transition.rule
                                                                        && $0.alertKey.hasSuffix(String(transition.instance.fingerprint, radix: 16)) })
                        .flatMap({ try? Finding.decode($0.body) }) else { continue }
                    if let runbook = catalog[transition.rule] {
                        let evidence = await runner.run(runbook, for: AlertContext(name: transition.rule, labels: labels,
                                                                                   activeAt: transition.instance.activeAt, time: time))
                        finding.evidence = evidence.summaryLines
                        finding.diagnostics = DiagnosisWorker.json(evidence)
                        for line in evidence.summaryLines.prefix(6) { out.line("           evidence  \(line)") }
                        if let action = runbook.remediation.flatMap(RemediationAction.init(rawValue:)), let target = evidence.target {
                            let key = NotificationPlanner.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)
                            firing.insert(group: transition.group, key)
                            let decision = await remediator.decide(
                                .init(action: action, alert: transition.rule, alertKey: key, target: target, recentRollout: evidence.recentRollout,
                                      rule: RuleReference(file: "<built-in \(mesh) pack>", group: transition.group, name: transition.rule, builtIn: true)),
                                criticalWorkloads: planner.criticalWorkloadCount, now: time)
                            finding.remediation = decision.summary
                            finding.decision = DiagnosisWorker.json(decision)
                            story.decisions.append("\(decision.outcome.rawValue) \(decision.action.rawValue) \(decision.workload) (\(decision.decidedBy))")
                            out.line("           decision  \(decision.summary)")
                        }
                    }
                    let response = try await sink.send(finding, at: Date()).get()
                    out.line("           finding   → webhook: HTTP \(response.status), id \(finding.id.prefix(12))…")
                case .resolved:
                    out.line("\(Self.clock(time))  RESOLVED \(transition.rule.padding(toLength: width, withPad: " ", startingAt: 0)) \(subject)")
                case .inactive:
                    continue
                }
            }
            time = time.addingTimeInterval(30)
        }
        return story
    }

    /// Saves what the receiver got, one file per finding, in arrival order; returns how many.
    private func save(_ receiver: EchoServer, to directory: String) async throws -> Int {
        let bodies = try await receiver.deliveries().bodies
        for (index, body) in bodies.enumerated() {
            let finding = try? Finding.decode(Array(body.utf8))
            let name = String(format: "%03d-%@-%@.json", index + 1, finding?.alert.name ?? "finding", finding?.kind.rawValue ?? "unknown")
            try body.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return bodies.count
    }

    static func subject(_ labels: [String: String]) -> String {
        if let workload = labels["destination_workload"] { return "\(labels["destination_workload_namespace"] ?? "")/\(workload)" }
        if let deployment = labels["deployment"] { return "\(labels["namespace"] ?? "")/\(deployment)" }
        if let name = labels["name"] { return "\(labels["namespace"] ?? "")/\(name)" }
        return labels["instance"] ?? labels["job"] ?? "-"
    }

    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }

    /// The story on stdout; progress on stderr (visible in a terminal, apart from the story in a pipe).
    final class Output: Sendable {
        func line(_ text: String) { print(text) }
        func progress(_ text: String) { FileHandle.standardError.write(Data("demo: \(text)\n".utf8)) }
    }
}
