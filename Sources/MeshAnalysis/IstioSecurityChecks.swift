import Foundation
import MetricModel
import Remediation

/// The guide's "mTLS Not Working", "Authorization Policies Blocking Traffic" and the gateway's
/// TLS: principals naming no ServiceAccount, policies that deny everything, mTLS turned off or
/// left PERMISSIVE, gateway certificates missing or expiring.
extension Analyzer {
    func unknownPrincipals(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        // ServiceAccounts are listed cluster-wide, so every namespace with one is known even when
        // the analysis is scoped; a namespace neither listed nor in scope cannot be judged.
        let namespaces = Set(snapshot.namespaces.map(\.metadata.name)).union(snapshot.serviceAccounts.map(\.namespace))
        for policy in snapshot.authorizationPolicies where snapshot.inScope(policy.metadata.namespace) {
            for rule in policy.spec?["rules"]?.elements ?? [] {
                for from in rule["from"]?.elements ?? [] {
                    let source = from["source"]
                    let principals = (source?["principals"]?.elements ?? []) + (source?["notPrincipals"]?.elements ?? [])
                    for principal in principals.compactMap(\.string) where !principal.contains("*") {
                        // <trust domain>/ns/<namespace>/sa/<service account>
                        let parts = principal.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { continue }
                        let (namespace, account) = (parts[2], parts[4])
                        let accounts = snapshot.serviceAccounts.filter { $0.namespace == namespace }.map(\.metadata.name)
                        if account == "default" && namespaces.contains(namespace) || accounts.contains(account) { continue }
                        if !namespaces.contains(namespace) && snapshot.scope != nil { continue }
                        let message: String
                        if !namespaces.contains(namespace) {
                            message = "AuthorizationPolicy \(policy.namespace)/\(policy.metadata.name) names principal \(principal), and there is no namespace \(namespace)"
                        } else {
                            // Near names only: a long or very different name is not a typo (and not worth the CPU).
                            let near = account.count > 253 ? [] : accounts.filter { abs($0.count - account.count) <= 2 && EditDistance.between($0, account) <= 2 }
                                .sorted { EditDistance.between($0, account) < EditDistance.between($1, account) }
                            message = "AuthorizationPolicy \(policy.namespace)/\(policy.metadata.name) names principal \(principal), and there is no ServiceAccount \(namespace)/\(account)"
                                + (near.isEmpty ? "" : "; did you mean \(near.prefix(3).map { "\"\($0)\"" }.joined(separator: " or "))?")
                        }
                        findings.append(finding(
                            .authorizationUnknownPrincipal, .error, namespace: policy.namespace, objects: [policy.reference("AuthorizationPolicy")],
                            message: message,
                            explanation: "No workload has this identity, so the rule matches no caller: an ALLOW rule admits nobody (\"RBAC: access denied\", 403), a DENY rule protects nothing.",
                            fix: "Name the ServiceAccount the callers run as: cluster.local/ns/<namespace>/sa/<name> (kubectl get serviceaccounts -n "
                                + (KubernetesName.labelProblem(namespace) == nil ? namespace : "<namespace>") + ")."))
                    }
                }
            }
        }
        return findings
    }

    func denyAll(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        for policy in snapshot.authorizationPolicies where snapshot.inScope(policy.metadata.namespace) {
            let action = policy.spec?["action"]?.string ?? "ALLOW"
            guard action == "ALLOW", (policy.spec?["rules"]?.elements ?? []).isEmpty, policy.spec?["provider"] == nil else { continue }
            let selector = policy.spec?["selector"]?["matchLabels"]?.stringMap ?? [:]
            // Another ALLOW policy with rules for the same workloads (or the whole namespace) lets something in.
            let allows = snapshot.authorizationPolicies.filter {
                $0.namespace == policy.namespace && ($0.spec?["action"]?.string ?? "ALLOW") == "ALLOW" && !($0.spec?["rules"]?.elements ?? []).isEmpty
                    && ($0.spec?["selector"]?["matchLabels"]?.stringMap ?? [:]).allSatisfy { selector[$0.key] == $0.value }
            }
            guard allows.isEmpty else { continue }
            let scope = selector.isEmpty ? "every workload in \(policy.namespace)" : "the workloads with \(selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
            findings.append(finding(
                .denyAllWithoutAllow, .error, namespace: policy.namespace, objects: [policy.reference("AuthorizationPolicy")],
                message: "AuthorizationPolicy \(policy.namespace)/\(policy.metadata.name) allows nothing and no ALLOW policy with rules applies to \(scope): every request is denied",
                explanation: "An ALLOW policy without rules matches no request; once any ALLOW policy applies to a workload, requests that match none are refused (403, \"RBAC: access denied\").",
                fix: "Add ALLOW policies for the callers that should get through (or set action: AUDIT to see what would be denied), before or together with the deny-all.",
                yaml: """
                    apiVersion: security.istio.io/v1
                    kind: AuthorizationPolicy
                    metadata:
                      name: allow-frontend
                      namespace: \(policy.namespace)
                    spec:
                      action: ALLOW
                      rules:
                      - from:
                        - source:
                            principals:
                            - cluster.local/ns/\(policy.namespace)/sa/frontend
                    """))
        }
        return findings
    }

    /// The mTLS mode of a PeerAuthentication without a selector: STRICT, PERMISSIVE, DISABLE or nil (UNSET).
    private func mode(_ policy: GenericObject) -> String? {
        let mode = policy.spec?["mtls"]?["mode"]?.string
        return mode == "UNSET" ? nil : mode
    }

    private func hasSelector(_ policy: GenericObject) -> Bool {
        !(policy.spec?["selector"]?["matchLabels"]?.stringMap ?? [:]).isEmpty
    }

    func disabledPeerAuthentication(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        snapshot.peerAuthentications.filter { snapshot.inScope($0.metadata.namespace) }.compactMap { policy in
            // Port-level settings apply only to a policy with a workload selector (Istio ignores them otherwise).
            let ports = !hasSelector(policy) ? [] : (policy.spec?["portLevelMtls"].flatMap { value -> [String]? in
                guard case .object(let object) = value else { return nil }
                return object.filter { $0.value["mode"]?.string == "DISABLE" }.keys.sorted()
            }) ?? []
            guard mode(policy) == "DISABLE" || !ports.isEmpty else { return nil }
            let what = mode(policy) == "DISABLE" ? "turns mutual TLS off" : "turns mutual TLS off on port \(ports.joined(separator: ", "))"
            let scope = policy.namespace == rootNamespace && !hasSelector(policy) ? "for the whole mesh" : hasSelector(policy) ? "for its workloads" : "in \(policy.namespace)"
            return finding(
                .peerAuthenticationDisabled, .error, namespace: policy.namespace, objects: [policy.reference("PeerAuthentication")],
                message: "PeerAuthentication \(policy.namespace)/\(policy.metadata.name) \(what) \(scope)",
                explanation: "Traffic to these workloads is plain text: no identity, so AuthorizationPolicy principals cannot match, and the mesh's mTLS share drops (IstioMTLSDisabled).",
                fix: "Set mode STRICT (or PERMISSIVE while clients migrate, for a short time).",
                yaml: """
                    apiVersion: security.istio.io/v1
                    kind: PeerAuthentication
                    metadata:
                      name: \(policy.metadata.name)
                      namespace: \(policy.namespace)
                    spec:
                      mtls:
                        mode: STRICT
                    """)
        }
    }

    func permissivePeerAuthentication(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        let limit = Double(permissiveMaxAge.components.seconds)
        let days = GoDays.text(limit)
        func age(_ meta: ObjectMeta) -> Double? {
            meta.creationTimestamp.flatMap(KubeTime.parse).map { now.timeIntervalSince($0) }
        }
        let meshWide = snapshot.peerAuthentications.first { $0.namespace == rootNamespace && !hasSelector($0) }
        // Explicit PERMISSIVE policies.
        for policy in snapshot.peerAuthentications where snapshot.inScope(policy.metadata.namespace) && mode(policy) == "PERMISSIVE" {
            guard let age = age(policy.metadata), age > limit else { continue }
            findings.append(finding(
                .peerAuthenticationPermissive, .warning, namespace: policy.namespace, objects: [policy.reference("PeerAuthentication")],
                message: "PeerAuthentication \(policy.namespace)/\(policy.metadata.name) has been PERMISSIVE for \(GoDays.text(age)) (more than \(days))",
                explanation: "PERMISSIVE accepts plain text as well as mTLS: meant for a migration (the guide's \"temporarily\"), it leaves workloads reachable without identity for as long as it stays.",
                fix: "Once every client has a sidecar (IstioLowMTLSCoverage quiet), set mode STRICT.",
                yaml: "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: \(policy.metadata.name)\n  namespace: \(policy.namespace)\nspec:\n  mtls:\n    mode: STRICT"))
        }
        // Istio's default when no policy says otherwise: PERMISSIVE, since the namespace exists.
        guard meshWide.flatMap(mode) == nil else { return findings }
        for namespace in snapshot.namespaces where snapshot.inScope(namespace.metadata.name) && namespace.metadata.name != rootNamespace {
            let name = namespace.metadata.name
            let meshed = isInjected(namespace) || snapshot.pods.contains { $0.metadata.namespace == name && $0.hasSidecar(named: "istio-proxy") }
            guard meshed, !snapshot.peerAuthentications.contains(where: { $0.namespace == name && !hasSelector($0) && mode($0) != nil }),
                  let age = age(namespace.metadata), age > limit else { continue }
            findings.append(finding(
                .peerAuthenticationPermissive, .warning, namespace: name, objects: ["Namespace \(name)"],
                message: "Namespace \(name) is in the mesh and no PeerAuthentication sets its mTLS mode: Istio's default, PERMISSIVE, for \(GoDays.text(age)) (more than \(days))",
                explanation: "Without a PeerAuthentication, Istio accepts plain text as well as mTLS: workloads are reachable without identity.",
                fix: "Add a mesh-wide PeerAuthentication in \(rootNamespace) (or one for this namespace) with mode STRICT.",
                yaml: "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: \(rootNamespace)\nspec:\n  mtls:\n    mode: STRICT"))
        }
        return findings
    }

    func gatewayCertificates(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        for gateway in snapshot.gateways where snapshot.inScope(gateway.metadata.namespace) {
            for server in gateway.spec?["servers"]?.elements ?? [] {
                guard let secret = server["tls"]?["credentialName"]?.string else { continue }
                // Istio reads credentialName in the namespace of the gateway's workload (the pods its
                // selector matches, usually istio-system), not necessarily the Gateway's own.
                let selector = gateway.spec?["selector"]?.stringMap ?? [:]
                let workloads = Set(snapshot.pods.filter { pod in !selector.isEmpty && selector.allSatisfy { pod.labels[$0.key] == $0.value } }
                    .compactMap(\.metadata.namespace))
                let secretNamespace = workloads.count == 1 ? workloads.first! : gateway.namespace
                let reference = "\(secretNamespace)/\(secret)"
                let objects = [gateway.reference("Gateway")]
                func report(_ severity: AnalysisFinding.Severity, _ message: String, _ fix: String, extra: [String] = []) {
                    findings.append(finding(
                        .gatewayTLSSecret, severity, namespace: gateway.namespace, objects: objects + extra,
                        message: "Gateway \(gateway.namespace)/\(gateway.metadata.name): TLS secret \(secret) \(message)",
                        explanation: "The gateway serves TLS with this secret: missing, it refuses the handshake for these hosts; expired, every client fails to verify it.",
                        fix: fix))
                }
                // cert-manager's Certificate status first: no Secret needs reading for it.
                if let certificate = snapshot.certificates.first(where: { $0.namespace == secretNamespace && $0.spec?["secretName"]?.string == secret }) {
                    let extra = [certificate.reference("Certificate")]
                    let ready = (certificate.status?["conditions"]?.elements ?? []).first { $0["type"]?.string == "Ready" }?["status"]?.string
                    if let notAfter = certificate.status?["notAfter"]?.string.flatMap(KubeTime.parse) {
                        let left = notAfter.timeIntervalSince(now)
                        if left <= 0 {
                            report(.error, "expired \(GoDays.text(-left)) ago (Certificate \(certificate.metadata.name))", "Check the Certificate's Issuer and its orders; renew it (cmctl renew).", extra: extra)
                        } else if left < Double(certificateWarning.components.seconds) {
                            report(.warning, "expires in \(GoDays.text(left)) (Certificate \(certificate.metadata.name), Ready \(ready ?? "unknown"))",
                                   "cert-manager should have renewed it by now: check the Certificate's events, orders and challenges.", extra: extra)
                        }
                    } else if ready != "True" {
                        report(.error, "is not issued yet (Certificate \(certificate.metadata.name) Ready \(ready ?? "unknown"))", "Check the Certificate's events and its Issuer.", extra: extra)
                    }
                    continue
                }
                if let read = snapshot.secrets[reference] {
                    if let notAfter = read {
                        let left = notAfter.timeIntervalSince(now)
                        if left <= 0 { report(.error, "holds a certificate that expired \(GoDays.text(-left)) ago", "Replace the certificate in the Secret.") }
                        else if left < Double(certificateWarning.components.seconds) { report(.warning, "expires in \(GoDays.text(left))", "Renew the certificate in the Secret.") }
                    } else {
                        report(.error, "does not exist in \(secretNamespace)", "Create it in \(secretNamespace), where the gateway's pods run (a kubernetes.io/tls Secret named \(KubernetesName.quoted(secret))).")
                    }
                    continue
                }
                report(.info, "is not managed by cert-manager, and Secrets are not read unless named",
                       "To check it, let meshwatchd GET it (--read-secret \(reference), and a Role granting get on that one Secret).")
            }
        }
        return findings
    }
}

/// Durations in days, as the findings say them: `9.5 days`, `3 hours`.
enum GoDays {
    static func text(_ seconds: Double) -> String {
        if seconds >= 86400 { return String(format: "%.1f days", seconds / 86400).replacingOccurrences(of: ".0 days", with: " days") }
        return String(format: "%.0f hours", seconds / 3600)
    }
}
