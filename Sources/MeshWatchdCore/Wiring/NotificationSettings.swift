import GoTemplate
import AlertEngine
import Foundation
import Incidents
import MetricModel

/// The notification side of the daemon's settings: the escalation policy, the sinks' routes
/// and the finding factory (links and external labels), built from the configuration.
struct NotificationSettings: Sendable {
    var policy: EscalationPolicy
    var routes: [SinkRoute]
    /// Per sink, how long firing and resolved findings wait for companions (Slack's group wait).
    var holds: [String: Duration]
    var factory: FindingFactory

    static func build(_ configuration: Configuration.Notifications?, sinks: [ConfiguredSink], groups: [RuleGroup],
                      context: EvaluationContext, notes: RemediationNotes = RemediationNotes(), pageURL: String? = nil) throws -> NotificationSettings {
        var delays: [Duration] = [.zero, .seconds(30 * 60), .seconds(2 * 3600)]
        var levelOf: [String: Int] = [:]
        if let levels = configuration?.levels, !levels.isEmpty {
            delays = levels.map { $0.after?.value ?? .zero }
            for (index, level) in levels.enumerated() {
                for sink in level.sinks ?? [] { levelOf[sink] = index + 1 }
            }
        }
        let downAfter = configuration?.datasourceDownAfter?.value ?? .seconds(300)
        let policy = EscalationPolicy(
            delays: delays, repeatInterval: configuration?.repeatInterval?.value ?? .seconds(4 * 3600),
            emergencyCriticalWorkloads: configuration?.emergencyCriticalWorkloads ?? 3,
            datasourceDownAfter: downAfter > .zero ? downAfter : nil)
        let routes = sinks.map { sink in
            SinkRoute(name: sink.name, alerts: sink.alerts, severities: sink.severities, level: levelOf[sink.name] ?? 1,
                      repeatInterval: sink.repeatInterval, matchers: sink.matchers, continueMatching: sink.continueMatching,
                      alertmanager: sink.sink is AlertmanagerSink)
        }
        var holds: [String: Duration] = [:]
        for sink in sinks { if let wait = sink.sink.groupWait, wait > .zero { holds[sink.name] = wait } }

        let links = try (configuration?.links ?? [:]).map { name, source in (name, try Template(source, name: name)) }
        let expressions = Dictionary(groups.flatMap { group in group.rules.map { (group.name + "\u{0}" + $0.name, $0.expression) } },
                                     uniquingKeysWith: { first, _ in first })
        let pageBase = pageURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.flatMap { $0.isEmpty ? nil : $0 }
        let factory: FindingFactory = { transition, kind, sequence, level in
            var finding = Finding(transition: transition, kind: kind, reminder: sequence, escalationLevel: level, generatedAt: transition.at)
            // External labels go with every alert that leaves the daemon, as Prometheus adds them.
            for label in context.externalLabels where finding.alert.labels[label.name] == nil {
                finding.alert.labels[label.name] = label.value
            }
            let data = TemplateData(labels: transition.instance.labels, externalLabels: context.externalLabels,
                                    externalURL: context.externalURL, value: transition.instance.value)
            for (name, template) in links {
                if let link = try? template.execute(data), !link.isEmpty { finding.links[name] = link }
            }
            if let note = notes[NotificationPlanner.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)] {
                finding.remediation = note
            }
            if let page = pageBase {
                // meshwatchd's own page: the alert is the source, and the finding has a page of its own.
                let key = NotificationPlanner.alertKey(group: transition.group, fingerprint: transition.instance.fingerprint)
                finding.alert.generatorURL = page + ConsolePages.alertPath(key)
                if finding.links["finding"] == nil { finding.links["finding"] = page + ConsolePages.findingPath(finding.id) }
            } else if !context.externalURL.isEmpty, let expression = expressions[transition.group + "\u{0}" + transition.rule] {
                finding.alert.generatorURL = generatorURL(externalURL: context.externalURL, expression: expression)
            }
            return finding
        }
        return NotificationSettings(policy: policy, routes: routes, holds: holds, factory: factory)
    }

    /// Prometheus's link to an expression: `<external URL>/graph?g0.expr=…&g0.tab=1`.
    static func generatorURL(externalURL: String, expression: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let base = externalURL.hasSuffix("/") ? String(externalURL.dropLast()) : externalURL
        return base + "/graph?g0.expr=" + (expression.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "&g0.tab=1"
    }
}
