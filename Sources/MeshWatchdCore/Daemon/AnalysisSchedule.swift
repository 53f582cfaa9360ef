import AlertEngine
import Foundation
import Incidents
import Logging
import MeshAnalysis
import MetricModel
import Remediation

/// `meshwatchd analyze` on a schedule: each problem is an instance of the alert
/// `MeshConfigProblem` in the group `meshwatchd-analyze`, fired once when it appears and resolved
/// when it is fixed, through the same planner, outbox and state as every alert — so a restart
/// neither repeats nor forgets one. An API that cannot be read changes nothing.
struct AnalysisSchedule: Sendable {
    static let group = "meshwatchd-analyze"
    static let alert = "MeshConfigProblem"

    struct Settings: Sendable {
        var client: KubernetesClient
        var interval: Duration
        var namespaces: [String]?
        var analyzer: Analyzer
        /// The least severity that becomes a finding.
        var minimum: AnalysisFinding.Severity
    }

    let settings: Settings
    let store: StateStore
    let planner: NotificationPlanner
    let committer: StateCommitter
    let notifies: Bool
    let status: DaemonStatus
    let logger: Logger

    /// One alert instance per check and object: a count or a list in the message changing does
    /// not make it a new problem.
    static func instances(_ findings: [AnalysisFinding], at time: Date) -> [UInt64: AlertInstance] {
        var grouped: [String: [AnalysisFinding]] = [:]
        for finding in findings { grouped[[finding.code, finding.namespace, finding.objects.first ?? ""].joined(separator: "\u{1F}"), default: []].append(finding) }
        var out: [UInt64: AlertInstance] = [:]
        for (_, group) in grouped {
            let first = group[0]
            let severity = group.map(\.severity).max() ?? first.severity
            let labels = Labels(["alertname": alert, "code": first.code, "check": first.check, "mesh": first.mesh, "namespace": first.namespace,
                                 "object": first.objects.first ?? "", "problem_severity": severity.rawValue,
                                 // Never "critical": configuration problems must not count towards the many-critical-workloads emergency.
                                 "severity": severity == .info ? "info" : "warning"])
            var annotations = ["summary": first.message + (group.count > 1 ? " (and \(group.count - 1) more)" : ""),
                               "description": first.explanation, "fix": first.fix]
            if let yaml = first.fixYAML { annotations["fix_yaml"] = yaml }
            let instance = AlertInstance(labels: labels, annotations: Labels(annotations), state: .firing, value: Double(group.count),
                                         activeAt: time, firedAt: time)
            out[instance.fingerprint] = instance
        }
        return out
    }

    /// The schedule is off: whatever it had raised and stored resolves now, once.
    static func resolveStored(store: StateStore, planner: NotificationPlanner, committer: StateCommitter, notifies: Bool, at time: Date,
                              logger: Logger) async {
        let stored: [AlertInstance]
        do { stored = try store.load(group: group)?.rules[alert] ?? [] } catch {
            logger.error("could not read the configuration checks' state", metadata: ["error": "\(error)"])
            return
        }
        let transitions = stored.filter { $0.state == .firing }.map { instance -> AlertTransition in
            var instance = instance
            instance.state = .inactive
            instance.resolvedAt = time
            return AlertTransition(kind: .resolved, group: group, rule: alert, instance: instance, at: time)
        }
        guard !transitions.isEmpty else { return }
        let plan = notifies ? planner.plan(transitions, at: time) : NotificationPlan()
        await committer.commit(key: group, snapshot: EngineSnapshot(takenAt: time, rules: [:]), .init(plan: plan, transitions: transitions))
    }

    func run() async {
        var active: [UInt64: AlertInstance] = [:]
        do {
            for instance in try store.load(group: Self.group)?.rules[Self.alert] ?? [] where instance.state == .firing {
                active[instance.fingerprint] = instance
            }
        } catch {
            logger.error("could not read the configuration checks' state", metadata: ["error": "\(error)"])
        }
        while !Task.isCancelled {
            let now = Date()
            var analyzer = settings.analyzer
            analyzer.now = now
            do {
                let report = try await AnalysisReport.make(settings.client, analyzer: analyzer, namespaces: settings.namespaces, readSecrets: [])
                let current = Self.instances(report.findings.filter { $0.severity >= settings.minimum }, at: now)
                var transitions: [AlertTransition] = []
                var kept: [UInt64: AlertInstance] = [:]
                for (fingerprint, instance) in current {
                    if var known = active[fingerprint] {
                        known.annotations = instance.annotations  // the latest wording, without firing again
                        kept[fingerprint] = known
                    } else {
                        kept[fingerprint] = instance
                        transitions.append(AlertTransition(kind: .firing, group: Self.group, rule: Self.alert, instance: instance, at: now))
                    }
                }
                for (fingerprint, var instance) in active where current[fingerprint] == nil {
                    instance.state = .inactive
                    instance.resolvedAt = now
                    transitions.append(AlertTransition(kind: .resolved, group: Self.group, rule: Self.alert, instance: instance, at: now))
                }
                let plan = notifies ? planner.plan(transitions, at: now) : NotificationPlan()
                let snapshot = EngineSnapshot(takenAt: now, rules: [Self.alert: Array(kept.values)])
                // Held in memory when the disk refuses, and saved with the next commit: never planned twice.
                await committer.commit(key: Self.group, snapshot: snapshot, .init(plan: plan, transitions: transitions))
                active = kept
                await status.analysisRan(problems: kept.count, at: now)
                logger.info("configuration checks ran", metadata: ["analyze.problems": .stringConvertible(kept.count), "analyze.new": .stringConvertible(transitions.filter { $0.kind == .firing }.count),
                                                                   "analyze.fixed": .stringConvertible(transitions.filter { $0.kind == .resolved }.count)])
            } catch {
                await status.analysisRan(problems: nil, at: now)
                logger.warning("configuration checks could not read the Kubernetes API; their findings stay as they were", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: settings.interval) } catch { break }
        }
    }
}
