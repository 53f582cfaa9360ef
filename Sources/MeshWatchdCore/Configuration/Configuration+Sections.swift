import MetricModel
import GoTemplate
import AlertEngine
import Foundation
import Remediation

/// The checks of the notification, runbook, remediation and leader-election sections, and the
/// remediation policy they make.
extension Configuration {
    func webProblems(file: String, readingFiles: Bool) -> [ConfigurationError] {
        guard let web else { return [] }
        var found: [ConfigurationError] = []
        for (key, url) in [("external_url", web.externalUrl), ("advertise_url", web.advertiseUrl)] {
            guard let url else { continue }
            let components = URLComponents(string: url)
            if !(url.hasPrefix("http://") || url.hasPrefix("https://")) || components?.host?.isEmpty != false || components?.query != nil
                || components?.fragment != nil {
                found.append(ConfigurationError(file: file, keyPath: "web.\(key)", message: "expected an absolute http(s) URL without query or fragment, got \"\(url)\""))
            }
        }
        if let timeout = web.sessionTimeout, (timeout.value ?? .zero) <= .zero {
            found.append(ConfigurationError(file: file, keyPath: "web.session_timeout", message: "expected a positive duration such as 12h, got \"\(timeout)\""))
        }
        if let name = web.stateConfigmap, KubernetesName.subdomainProblem(name) != nil {
            found.append(ConfigurationError(file: file, keyPath: "web.state_configmap", message: "\"\(name)\" is not a ConfigMap name"))
        }
        var names: Set<String> = []
        for (index, user) in (web.users ?? []).enumerated() {
            let key = "web.users[\(index)]"
            if let name = user.name, !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "._@-".contains($0) }) {
                if !names.insert(name).inserted { found.append(ConfigurationError(file: file, keyPath: key + ".name", message: "user \"\(name)\" is listed twice")) }
            } else {
                found.append(ConfigurationError(file: file, keyPath: key + ".name", message: "expected a user name of letters, digits, . _ @ - (at most 64)"))
            }
            if let hash = user.passwordHash {
                if !WebAccess.isKnownHash(hash) {
                    found.append(ConfigurationError(file: file, keyPath: key + ".password_hash",
                                                    message: "not a password hash: expected bcrypt ($2b$/$2y$, from `meshwatchd hash-password` or `htpasswd -nB`), yescrypt ($y$), scrypt ($7$) or SHA-256/512 crypt ($5$/$6$)"))
                }
            } else {
                found.append(ConfigurationError(file: file, keyPath: key + ".password_hash", message: "missing (a plain password is never accepted)"))
            }
        }
        for (index, token) in (web.tokens ?? []).enumerated() {
            let key = "web.tokens[\(index)]"
            if let name = token.name, !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "._@-".contains($0) }) {
                if !names.insert("token:" + name).inserted { found.append(ConfigurationError(file: file, keyPath: key + ".name", message: "token \"\(name)\" is listed twice")) }
            } else {
                found.append(ConfigurationError(file: file, keyPath: key + ".name", message: "expected a token name of letters, digits, . _ @ - (at most 64)"))
            }
            guard let path = token.file else {
                found.append(ConfigurationError(file: file, keyPath: key + ".file", message: "missing (tokens are read from files, never written inline)"))
                continue
            }
            if readingFiles {
                if let data = FileManager.default.contents(atPath: path) {
                    if String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8.count < 16 {
                        found.append(ConfigurationError(file: file, keyPath: key + ".file", message: "\(path): a token needs at least 16 characters"))
                    }
                } else {
                    found.append(ConfigurationError(file: file, keyPath: key + ".file", message: "cannot read \(path)"))
                }
            }
        }
        return found
    }

    func leaderElectionProblems(file: String) -> [ConfigurationError] {
        guard let election = leaderElection, election.enabled == true else { return [] }
        var found: [ConfigurationError] = []
        var durations: [String: Duration] = [:]
        for (key, value) in [("lease_duration", election.leaseDuration), ("renew_deadline", election.renewDeadline), ("retry_period", election.retryPeriod)] {
            guard let value else { continue }
            if let duration = value.value, duration > .zero { durations[key] = duration } else {
                found.append(ConfigurationError(file: file, keyPath: "leader_election.\(key)", message: "expected a positive duration such as 15s, got \"\(value)\""))
            }
        }
        let lease = durations["lease_duration"] ?? ConfigurationDefaults.leaseDuration
        let renew = durations["renew_deadline"] ?? ConfigurationDefaults.renewDeadline
        let retry = durations["retry_period"] ?? ConfigurationDefaults.retryPeriod
        if !(lease > renew && renew > retry) {
            found.append(ConfigurationError(file: file, keyPath: "leader_election", message: "expected lease_duration > renew_deadline > retry_period"))
        }
        if kubernetes == nil && ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] == nil {
            found.append(ConfigurationError(file: file, keyPath: "leader_election.enabled", message: "leader election needs a Kubernetes API (kubernetes.kubeconfig or in_cluster)"))
        }
        return found
    }

    func remediationProblems(file: String) -> [ConfigurationError] {
        guard let remediation else { return [] }
        var found: [ConfigurationError] = []
        if case .unknown(let mode) = remediation.mode {
            found.append(ConfigurationError(file: file, keyPath: "remediation.mode", message: "expected off, dry-run or enforce, got \"\(mode)\""))
        }
        for (key, value) in [("cooldown", remediation.cooldown), ("verification_window", remediation.verificationWindow)] {
            if let value, (value.value ?? .zero) <= .zero {
                found.append(ConfigurationError(file: file, keyPath: "remediation.\(key)", message: "expected a positive duration such as 30m, got \"\(value)\""))
            }
        }
        for (key, value, minimum) in [("budget_per_hour", remediation.budgetPerHour, 0), ("blast_radius", remediation.blastRadius, 1),
                                      ("max_replicas", remediation.maxReplicas, 1), ("scale_step", remediation.scaleStep, 1)] {
            if let value, value < minimum {
                found.append(ConfigurationError(file: file, keyPath: "remediation.\(key)", message: "expected \(minimum) or more, got \(value)"))
            }
        }
        for (index, workload) in (remediation.allowWorkloads ?? []).enumerated() where workload.split(separator: "/").count != 2 {
            found.append(ConfigurationError(file: file, keyPath: "remediation.allow_workloads[\(index)]", message: "expected namespace/name, got \"\(workload)\""))
        }
        let environment = ProcessInfo.processInfo.environment
        if remediation.mode?.value == .enforce && kubernetes == nil && environment["KUBERNETES_SERVICE_HOST"] == nil {
            found.append(ConfigurationError(file: file, keyPath: "remediation.mode", message: "enforce needs a Kubernetes API (kubernetes.kubeconfig or in_cluster)"))
        }
        // Outside a pod nothing says which namespace is the daemon's own, so it could not be protected.
        if remediation.mode?.value == .enforce && remediationPolicy(environment: environment).ownNamespace == nil {
            found.append(ConfigurationError(file: file, keyPath: "remediation.own_namespace",
                                            message: "enforce outside a pod needs own_namespace (the namespace meshwatchd runs in, protected like kube-system)"))
        }
        for (key, names) in [("allow_namespaces", remediation.allowNamespaces), ("deny_namespaces", remediation.denyNamespaces)] {
            for (index, name) in (names ?? []).enumerated() {
                if let problem = KubernetesName.labelProblem(name) {
                    found.append(ConfigurationError(file: file, keyPath: "remediation.\(key)[\(index)]", message: "\(KubernetesName.quoted(name)) is not a namespace name: it \(problem)"))
                }
            }
        }
        for (index, rule) in (remediation.rules ?? []).enumerated() {
            for (key, value) in [("file", rule.file), ("group", rule.group), ("rule", rule.rule)] where value.isEmpty {
                found.append(ConfigurationError(file: file, keyPath: "remediation.rules[\(index)].\(key)", message: "missing"))
            }
            if let files = ruleFiles, !files.contains(where: { Self.matches(rule.file, $0) }) {
                found.append(ConfigurationError(file: file, keyPath: "remediation.rules[\(index)].file",
                                                message: "\(rule.file) is not one of rule_files (\(files.joined(separator: ", ")))"))
            }
        }
        return found
    }

    /// The guards' settings; the own namespace defaults to the pod's (`POD_NAMESPACE`, or the service account's).
    func remediationPolicy(environment: [String: String]) -> RemediationPolicy {
        var policy = RemediationPolicy()
        guard let remediation else { return policy }
        if let mode = remediation.mode?.value { policy.mode = mode }
        policy.allowNamespaces = Set(remediation.allowNamespaces ?? [])
        policy.denyNamespaces = Set(remediation.denyNamespaces ?? [])
        policy.allowWorkloads = Set(remediation.allowWorkloads ?? [])
        policy.ownNamespace = remediation.ownNamespace ?? environment["POD_NAMESPACE"]
            ?? (try? String(contentsOfFile: KubernetesConnection.serviceAccountDirectory + "/namespace", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        if let value = remediation.cooldown?.value { policy.cooldown = value }
        if let value = remediation.budgetPerHour { policy.budgetPerHour = value }
        if let value = remediation.blastRadius { policy.blastRadius = value }
        if let value = remediation.maxReplicas { policy.maxReplicas = value }
        if let value = remediation.scaleStep { policy.scaleStep = value }
        if let value = remediation.verificationWindow?.value { policy.verificationWindow = value }
        policy.killSwitchFile = remediation.killSwitchFile
        policy.optedInRules = Set((remediation.rules ?? []).map { RuleReference.key(file: $0.file, group: $0.group, name: $0.rule) })
        policy.killSwitchConfigMap = remediation.killSwitchConfigmap.map { .init(namespace: $0.namespace, name: $0.name, key: $0.key) }
        return policy
    }

    /// A `remediation.rules` file names a rule file as `rule_files` does (both resolved against the configuration file), or a glob of them.
    static func matches(_ file: String, _ pattern: String) -> Bool {
        file == pattern || fnmatch(pattern, file, 0) == 0
    }

    func runbookProblems(file: String) -> [ConfigurationError] {
        var found: [ConfigurationError] = []
        if let path = kubernetes?.kubeconfig, !FileManager.default.isReadableFile(atPath: path) {
            found.append(ConfigurationError(file: file, keyPath: "kubernetes.kubeconfig", message: "cannot read \(path)"))
        }
        if let value = runbooks?.evidenceTimeout, (value.value ?? .zero) <= .zero {
            found.append(ConfigurationError(file: file, keyPath: "runbooks.evidence_timeout", message: "expected a positive duration such as 60s, got \"\(value)\""))
        }
        for (index, command) in (runbooks?.execAllow ?? []).enumerated() {
            if !command.hasPrefix("/") {
                found.append(ConfigurationError(file: file, keyPath: "runbooks.exec_allow[\(index)]", message: "expected an absolute path, got \"\(command)\""))
            } else if StepTemplate.interpreters.contains(URL(fileURLWithPath: command).lastPathComponent.lowercased()) {
                found.append(ConfigurationError(file: file, keyPath: "runbooks.exec_allow[\(index)]",
                                                message: "\(command) runs its arguments as code (a shell or interpreter); allow the program itself"))
            }
        }
        for (index, runbook) in (runbooks?.definitions ?? []).enumerated() {
            for problem in runbook.problems(execAllow: runbooks?.execAllow ?? []) {
                found.append(ConfigurationError(file: file, keyPath: "runbooks.definitions[\(index)].\(problem.keyPath)", message: problem.message))
            }
        }
        return found
    }

    func notificationProblems(file: String, sinkNames: Set<String>) -> [ConfigurationError] {
        guard let notifications else { return [] }
        var found: [ConfigurationError] = []
        if let value = notifications.repeatInterval, (value.value ?? .zero) <= .zero {
            found.append(ConfigurationError(file: file, keyPath: "notifications.repeat_interval",
                                            message: "expected a positive duration such as 4h, got \"\(value)\""))
        }
        if let value = notifications.datasourceDownAfter, value.value == nil {
            found.append(ConfigurationError(file: file, keyPath: "notifications.datasource_down_after",
                                            message: "expected a duration such as 5m (0s turns it off), got \"\(value)\""))
        }
        if let count = notifications.emergencyCriticalWorkloads, count < 0 {
            found.append(ConfigurationError(file: file, keyPath: "notifications.emergency_critical_workloads",
                                            message: "expected 0 (off) or more, got \(count)"))
        }
        var previous: Duration = .zero
        var placed: [String: Int] = [:]
        for (index, level) in (notifications.levels ?? []).enumerated() {
            let path = "notifications.levels[\(index)]"
            let after = level.after.map(\.value) ?? .some(.zero)
            if let after {
                if index == 0 && after != .zero {
                    found.append(ConfigurationError(file: file, keyPath: path + ".after", message: "the first level starts at once: 0s"))
                } else if index > 0 && after <= previous {
                    found.append(ConfigurationError(file: file, keyPath: path + ".after", message: "must be later than the level before"))
                }
                previous = after
            } else {
                found.append(ConfigurationError(file: file, keyPath: path + ".after", message: "expected a duration such as 30m, got \"\(level.after ?? "")\""))
            }
            for sink in level.sinks ?? [] {
                if !sinkNames.contains(sink) {
                    found.append(ConfigurationError(file: file, keyPath: path + ".sinks", message: "no sink is named \"\(sink)\""))
                } else if let other = placed.updateValue(index, forKey: sink) {
                    found.append(ConfigurationError(file: file, keyPath: path + ".sinks",
                                                    message: "\"\(sink)\" is already in notifications.levels[\(other)]"))
                }
            }
        }
        for (name, source) in (notifications.links ?? [:]).sorted(by: { $0.key < $1.key }) {
            do { _ = try Template(source, name: name) } catch {
                found.append(ConfigurationError(file: file, keyPath: "notifications.links.\(name)", message: "\(error)"))
            }
        }
        return found
    }
}
