import Foundation

/// One configuration mistake `meshwatchd analyze` found: a stable code, the objects involved,
/// the troubleshooting guide's explanation and the fix (as YAML where the guide gives one).
public struct AnalysisFinding: Codable, Sendable, Equatable, Hashable {
    public enum Severity: String, Codable, Sendable, Comparable, CaseIterable {
        case info, warning, error

        private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
        public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    }

    /// `MW101`…: never reused for another check.
    public var code: String
    /// The check's name, such as `virtualservice-unknown-subset`.
    public var check: String
    public var severity: Severity
    /// istio, linkerd or cilium.
    public var mesh: String
    public var namespace: String
    /// `Kind namespace/name` of each object involved, the one to change first.
    public var objects: [String]
    /// What is wrong, with the names.
    public var message: String
    /// Why it breaks traffic, after the guide.
    public var explanation: String
    /// What to do.
    public var fix: String
    public var fixYAML: String?

    /// What makes two findings the same problem: a scheduled run raises each once.
    public var identity: String { ([code, namespace] + objects + [message]).joined(separator: "\u{1F}") }

    public init(code: String, check: String, severity: Severity, mesh: String, namespace: String, objects: [String], message: String,
                explanation: String, fix: String, fixYAML: String? = nil) {
        self.code = code
        self.check = check
        self.severity = severity
        self.mesh = mesh
        self.namespace = namespace
        self.objects = objects
        self.message = message
        self.explanation = explanation
        self.fix = fix
        self.fixYAML = fixYAML
    }
}

/// Every check, by code: what `analyze --list` shows and the codes a runbook step may name.
public enum AnalysisCheck: String, CaseIterable, Sendable {
    case virtualServiceUnknownSubset = "MW101"
    case virtualServiceGatewayNamespace = "MW102"
    case authorizationUnknownPrincipal = "MW103"
    case destinationRuleUnknownHost = "MW104"
    case injectionMissingSidecar = "MW105"
    case sidecarOutsideInjection = "MW106"
    case peerAuthenticationDisabled = "MW107"
    case peerAuthenticationPermissive = "MW108"
    case gatewayTLSSecret = "MW109"
    case denyAllWithoutAllow = "MW110"
    case linkerdNamespaceNotAnnotated = "MW201"
    case ciliumPolicySelectsNothing = "MW301"

    public var name: String {
        switch self {
        case .virtualServiceUnknownSubset: "virtualservice-unknown-subset"
        case .virtualServiceGatewayNamespace: "virtualservice-gateway-namespace"
        case .authorizationUnknownPrincipal: "authorizationpolicy-unknown-principal"
        case .destinationRuleUnknownHost: "destinationrule-unknown-host"
        case .injectionMissingSidecar: "injection-missing-sidecar"
        case .sidecarOutsideInjection: "sidecar-outside-injection"
        case .peerAuthenticationDisabled: "peerauthentication-disabled"
        case .peerAuthenticationPermissive: "peerauthentication-permissive"
        case .gatewayTLSSecret: "gateway-tls-secret"
        case .denyAllWithoutAllow: "authorizationpolicy-deny-all"
        case .linkerdNamespaceNotAnnotated: "linkerd-namespace-not-annotated"
        case .ciliumPolicySelectsNothing: "ciliumnetworkpolicy-selects-nothing"
        }
    }

    public var mesh: String {
        switch self {
        case .linkerdNamespaceNotAnnotated: "linkerd"
        case .ciliumPolicySelectsNothing: "cilium"
        default: "istio"
        }
    }
}
