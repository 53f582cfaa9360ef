import MetricModel
import Foundation

// The parts of the Kubernetes objects the runbooks and remediation read. Unknown fields are
// ignored; everything optional is optional here too.

public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String?
    public var uid: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var resourceVersion: String?
    public var generation: Int?
    public var creationTimestamp: String?
    public var ownerReferences: [OwnerReference]?

    public struct OwnerReference: Codable, Sendable, Equatable {
        public var kind: String
        public var name: String
        public var uid: String
        public var controller: Bool?
    }

    public var created: Date? { creationTimestamp.flatMap(KubeTime.parse) }
    public func annotation(_ key: String) -> String? { annotations?[key] }
}

public struct LabelSelector: Codable, Sendable, Equatable {
    public struct Requirement: Codable, Sendable, Equatable {
        public var key: String
        public var `operator`: String
        public var values: [String]?
    }
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    /// The selector in the API's query syntax.
    public var query: String {
        var parts = (matchLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        for requirement in matchExpressions ?? [] {
            let values = (requirement.values ?? []).joined(separator: ",")
            switch requirement.operator {
            case "In": parts.append("\(requirement.key) in (\(values))")
            case "NotIn": parts.append("\(requirement.key) notin (\(values))")
            case "Exists": parts.append(requirement.key)
            case "DoesNotExist": parts.append("!" + requirement.key)
            default: continue
            }
        }
        return parts.joined(separator: ",")
    }

    /// Whether `labels` satisfy the selector.
    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let value = labels[requirement.key]
            switch requirement.operator {
            case "In": if !(value.map { (requirement.values ?? []).contains($0) } ?? false) { return false }
            case "NotIn": if value.map({ (requirement.values ?? []).contains($0) }) ?? false { return false }
            case "Exists": if value == nil { return false }
            case "DoesNotExist": if value != nil { return false }
            default: return false
            }
        }
        return true
    }
}

public struct Container: Codable, Sendable, Equatable {
    public var name: String
    public var image: String?
    /// `Always` on an init container makes it a native sidecar (Kubernetes 1.28+).
    public var restartPolicy: String?
}

public struct PodSpec: Codable, Sendable, Equatable {
    public var containers: [Container]
    public var initContainers: [Container]?
    public var nodeName: String?
}

public struct PodTemplateSpec: Codable, Sendable, Equatable {
    public struct Meta: Codable, Sendable, Equatable {
        public var labels: [String: String]?
        public var annotations: [String: String]?
    }
    public var metadata: Meta?
    public var spec: PodSpec?
}

public struct Condition: Codable, Sendable, Equatable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
}

public struct Deployment: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var replicas: Int?
        public var selector: LabelSelector
        public var template: PodTemplateSpec
        public var paused: Bool?
    }
    public struct Status: Codable, Sendable, Equatable {
        public var observedGeneration: Int?
        public var replicas: Int?
        public var updatedReplicas: Int?
        public var readyReplicas: Int?
        public var availableReplicas: Int?
        public var conditions: [Condition]?
    }
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public var revision: Int? { metadata.annotation("deployment.kubernetes.io/revision").flatMap(Int.init) }
}

public struct ReplicaSet: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var replicas: Int?
        public var template: PodTemplateSpec?
    }
    public struct Status: Codable, Sendable, Equatable {
        public var replicas: Int?
        public var readyReplicas: Int?
    }
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public var revision: Int? { metadata.annotation("deployment.kubernetes.io/revision").flatMap(Int.init) }

    /// Whether the Deployment with `uid` controls this ReplicaSet.
    public func isControlled(by uid: String?) -> Bool {
        (metadata.ownerReferences ?? []).contains { $0.uid == uid && $0.controller == true && $0.kind == "Deployment" }
    }
}

public struct Pod: Codable, Sendable, Equatable {
    public struct Status: Codable, Sendable, Equatable {
        public struct ContainerStatus: Codable, Sendable, Equatable {
            public struct State: Codable, Sendable, Equatable {
                public struct Detail: Codable, Sendable, Equatable { public var reason: String?; public var exitCode: Int? }
                public var waiting: Detail?
                public var terminated: Detail?
            }
            public var name: String
            public var ready: Bool?
            public var restartCount: Int?
            public var state: State?
            public var lastState: State?
        }
        public var phase: String?
        public var reason: String?
        public var conditions: [Condition]?
        public var containerStatuses: [ContainerStatus]?
    }
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: Status?

    public var isReady: Bool { status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false }
    public var restarts: Int { status?.containerStatuses?.reduce(0) { $0 + ($1.restartCount ?? 0) } ?? 0 }
    public var hasSidecar: Bool { hasSidecar(named: "istio-proxy") }

    /// Whether the pod runs the mesh's sidecar: among its containers, or as a native sidecar
    /// (an init container with `restartPolicy: Always`), as Istio and Linkerd inject it on
    /// Kubernetes 1.28 and later.
    public func hasSidecar(named name: String) -> Bool {
        guard let spec else { return false }
        return spec.containers.contains { $0.name == name }
            || (spec.initContainers ?? []).contains { $0.name == name && $0.restartPolicy == "Always" }
    }

    /// The mesh sidecars' container names, never a pod's application container.
    public static let sidecarNames: Set<String> = ["istio-proxy", "linkerd-proxy", "istio-init", "linkerd-init"]
    /// Why a container is not running (`CrashLoopBackOff`, `OOMKilled`), if one says.
    public var problem: String? {
        for status in status?.containerStatuses ?? [] {
            if let reason = status.state?.waiting?.reason ?? status.state?.terminated?.reason { return reason }
            if let reason = status.lastState?.terminated?.reason { return "last: " + reason }
        }
        return status?.reason
    }
}

public struct Event: Codable, Sendable, Equatable {
    public struct Reference: Codable, Sendable, Equatable {
        public var kind: String?
        public var name: String?
        public var namespace: String?
    }
    public var metadata: ObjectMeta
    public var involvedObject: Reference?
    public var reason: String?
    public var message: String?
    public var type: String?
    public var count: Int?
    public var lastTimestamp: String?
    public var eventTime: String?
    public var firstTimestamp: String?

    public var time: Date? {
        (lastTimestamp ?? eventTime ?? firstTimestamp).flatMap(KubeTime.parse) ?? metadata.created
    }
}

public struct HorizontalPodAutoscaler: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public struct Target: Codable, Sendable, Equatable { public var kind: String; public var name: String }
        public var scaleTargetRef: Target
        public var minReplicas: Int?
        public var maxReplicas: Int
    }
    public struct Status: Codable, Sendable, Equatable {
        public var currentReplicas: Int?
        public var desiredReplicas: Int?
    }
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
}

public struct Service: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var selector: [String: String]?
    }
    public var metadata: ObjectMeta
    public var spec: Spec?
}

public struct Namespace: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
}

/// Secrets are read only for `tls.crt`.
public struct TLSSecret: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var type: String?
    public var data: [String: String]?

    public var certificatePEM: Data? { data?["tls.crt"].flatMap { Data(base64Encoded: $0) } }
}

/// A ConfigMap's text data (a mesh's public trust roots).
public struct ConfigMap: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var data: [String: String]?
}

/// Istio and cert-manager resources, kept as structured JSON.
public struct GenericObject: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: JSONValue?
}

public enum KubeTime {
    /// RFC 3339 with or without a fraction; MicroTime's six digits are cut to milliseconds.
    public static func parse(_ text: String) -> Date? {
        guard let date = RFC3339.date(text) else { return nil }
        return Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}
