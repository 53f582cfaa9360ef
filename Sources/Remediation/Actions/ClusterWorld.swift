import Foundation
import MetricModel
import Synchronization

/// The remediation world as the daemon runs it: the Kubernetes API, the kill switch, the
/// alerts its evaluations saw firing, the lease and the mode in force.
public struct ClusterWorld: RemediationWorld {
    let client: KubernetesClient
    let killSwitchFile: String?
    let killSwitchConfigMap: RemediationPolicy.ConfigMapKey?
    let firing: FiringAlerts
    let leadership: Leadership
    let mode: LiveMode

    public init(client: KubernetesClient, policy: RemediationPolicy, firing: FiringAlerts, leadership: Leadership, mode: LiveMode) {
        self.client = client
        killSwitchFile = policy.killSwitchFile
        killSwitchConfigMap = policy.killSwitchConfigMap
        self.firing = firing
        self.leadership = leadership
        self.mode = mode
    }

    public func read(_ workload: WorkloadRef) async throws -> WorkloadSnapshot {
        let json = try await client.get(JSONValue.self, workload.path)
        let deployment = try JSONDecoder().decode(Deployment.self, from: Data(json.text.utf8))
        let sets = try await client.list(JSONValue.self, try KubernetesPath.namespaced(group: "apps", namespace: workload.namespace, resource: "replicasets"),
                                         labelSelector: deployment.spec.selector.query)
        let revisions = try sets.map { json in (try JSONDecoder().decode(ReplicaSet.self, from: Data(json.text.utf8)), json) }
            .filter { $0.0.isControlled(by: deployment.metadata.uid) && $0.0.revision != nil }
            .sorted { ($0.0.revision ?? 0) > ($1.0.revision ?? 0) }
        return WorkloadSnapshot(deployment: deployment, json: json, revisions: revisions.map { (replicaSet: $0.0, json: $0.1) },
                                autoscalers: try await autoscalers(workload.namespace))
    }

    public func autoscalers(_ namespace: String) async throws -> [HorizontalPodAutoscaler] {
        try await client.list(HorizontalPodAutoscaler.self,
                              try KubernetesPath.namespaced(group: "autoscaling", version: "v2", namespace: namespace, resource: "horizontalpodautoscalers"))
    }

    public func send(_ write: KubernetesWrite) async throws -> JSONValue { try await client.write(write) }

    public func killSwitch() async -> String? {
        if let file = killSwitchFile, let reason = KillSwitchFile.state(file) { return reason }
        guard let key = killSwitchConfigMap else { return nil }
        do {
            let path = try KubernetesPath.namespaced(namespace: key.namespace, resource: "configmaps", name: key.name)
            let configMap = try await client.get(JSONValue.self, path)
            return configMap["data"]?[key.key] != nil
                ? "the kill switch ConfigMap \(key.namespace)/\(key.name) has key \(key.key): every mode is dry-run" : nil
        } catch let error as KubernetesError where error.isNotFound {
            return nil
        } catch {
            return "the kill switch ConfigMap \(key.namespace)/\(key.name) cannot be read (\(error)): acting as if it were set"
        }
    }

    public func isFiring(alertKey: String) -> Bool { firing.contains(alertKey) }
    public func leaseProblem() -> String? { leadership.leaseProblem() }
    public func currentMode() -> RemediationMode { mode.current }
}

/// The kill-switch file fails closed: any directory entry at its path counts as set — a file,
/// a directory, a symlink (dangling or not), an unreadable file — and so does a path that
/// cannot be checked.
public enum KillSwitchFile {
    public static func state(_ path: String) -> String? {
        var info = stat()
        if lstat(path, &info) == 0 { return "the kill switch \(path) exists: every mode is dry-run" }
        let error = errno
        if error == ENOENT { return nil }
        return "the kill switch \(path) cannot be checked (\(String(cString: strerror(error)))): acting as if it were set"
    }
}

/// Alert keys (`group/fingerprint`) that the last evaluation of their rule, in this process, saw
/// firing. Restored state alone never puts a key here; a failing rule takes its keys out.
public final class FiringAlerts: Sendable {
    private let keys = Mutex<[String: Set<String>]>([:])
    public init() {}

    /// The group's firing keys after a cycle (only rules whose evaluation succeeded).
    public func update(group: String, firing: Set<String>) { keys.withLock { $0[group] = firing } }
    public func insert(group: String, _ key: String) { keys.withLock { _ = $0[group, default: []].insert(key) } }
    public func remove(group: String, _ key: String) { keys.withLock { _ = $0[group]?.remove(key) } }
    public func contains(_ key: String) -> Bool { keys.withLock { $0.values.contains { $0.contains(key) } } }
    /// After a reload: a group that is gone fires nothing any more.
    public func retain(groups: Set<String>) { keys.withLock { $0 = $0.filter { groups.contains($0.key) } } }
}

/// The remediation mode in force, shared by every generation so a reload mid-decision is seen
/// at the moment of the write.
public final class LiveMode: Sendable {
    private let mode: Mutex<RemediationMode>
    public init(_ mode: RemediationMode) { self.mode = Mutex(mode) }
    public var current: RemediationMode { mode.withLock { $0 } }
    public func set(_ value: RemediationMode) { mode.withLock { $0 = value } }
}
