import Foundation
import MetricModel
import Remediation

/// The troubleshooting guide's configuration mistakes, found in a snapshot of the cluster before
/// they break traffic. Pure: the snapshot in, the findings out, sorted by severity and place.
public struct Analyzer: Sendable {
    /// PERMISSIVE mTLS (explicit, or Istio's default without a PeerAuthentication) older than this is a finding.
    public var permissiveMaxAge: Duration = .seconds(7 * 86400)
    /// A gateway certificate expiring within this is a finding.
    public var certificateWarning: Duration = .seconds(14 * 86400)
    /// Istio's root namespace: its PeerAuthentication without a selector is mesh-wide.
    public var rootNamespace = "istio-system"
    /// Only these checks (all when empty).
    public var only: Set<AnalysisCheck> = []
    public var now: Date

    public init(now: Date) { self.now = now }

    public func run(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        let checks: [(AnalysisCheck, (ClusterSnapshot) -> [AnalysisFinding])] = [
            (.virtualServiceUnknownSubset, unknownSubsets), (.virtualServiceGatewayNamespace, gatewayReferences),
            (.authorizationUnknownPrincipal, unknownPrincipals), (.destinationRuleUnknownHost, unknownHosts),
            (.injectionMissingSidecar, missingSidecars), (.sidecarOutsideInjection, sidecarsOutsideInjection),
            (.peerAuthenticationDisabled, disabledPeerAuthentication), (.peerAuthenticationPermissive, permissivePeerAuthentication),
            (.gatewayTLSSecret, gatewayCertificates), (.denyAllWithoutAllow, denyAll),
            (.linkerdNamespaceNotAnnotated, linkerdAnnotations), (.ciliumPolicySelectsNothing, emptyCiliumPolicies),
        ]
        for (check, run) in checks where only.isEmpty || only.contains(check) {
            findings += run(snapshot)
        }
        return findings.sorted { a, b in
            if a.severity != b.severity { return a.severity > b.severity }
            return (a.namespace, a.code, a.objects.joined(separator: ","), a.message) < (b.namespace, b.code, b.objects.joined(separator: ","), b.message)
        }
    }

    func finding(_ check: AnalysisCheck, _ severity: AnalysisFinding.Severity, namespace: String, objects: [String], message: String,
                 explanation: String, fix: String, yaml: String? = nil) -> AnalysisFinding {
        AnalysisFinding(code: check.rawValue, check: check.name, severity: severity, mesh: check.mesh, namespace: namespace,
                        objects: objects, message: message, explanation: explanation, fix: fix, fixYAML: yaml)
    }
}

extension GenericObject {
    /// `Kind namespace/name`.
    func reference(_ kind: String) -> String { "\(kind) \(metadata.namespace.map { $0 + "/" } ?? "")\(metadata.name)" }
    var namespace: String { metadata.namespace ?? "" }
}

extension JSONValue {
    /// The elements of an array (none for anything else).
    var elements: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }

    /// A string-to-string object (labels, matchLabels).
    var stringMap: [String: String] {
        guard case .object(let object) = self else { return [:] }
        return object.compactMapValues(\.string)
    }

    var isEmptyObject: Bool {
        if case .object(let object) = self { return object.isEmpty }
        return false
    }
}

/// Istio's host names: a short name is relative to the namespace of the object naming it.
enum IstioHost {
    static let suffix = ".svc.cluster.local"

    /// `backend` in shop → `backend.shop.svc.cluster.local`, as Istio expands a short name (one
    /// without dots); anything with a dot is taken as written, as Istio takes it.
    static func qualified(_ host: String, in namespace: String) -> String {
        if host.contains(".") || host.contains("*") { return host }
        return "\(host).\(namespace)\(suffix)"
    }

    /// The Service name and namespace of an in-cluster host, or nil for an external one.
    static func service(_ qualified: String) -> (name: String, namespace: String)? {
        guard qualified.hasSuffix(suffix), !qualified.contains("*") else { return nil }
        let parts = qualified.dropLast(suffix.count).split(separator: ".")
        guard parts.count == 2 else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}

extension Pod {
    var isRunning: Bool { status?.phase == "Running" }
    var annotations: [String: String] { metadata.annotations ?? [:] }
    var labels: [String: String] { metadata.labels ?? [:] }
}
