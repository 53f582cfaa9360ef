import Foundation
import MetricModel
import Remediation

/// The guide's "Traffic Not Routing Correctly" and "Gateway Not Accessible": routes to subsets
/// nobody defines, gateways named without their namespace, DestinationRules for no Service.
extension Analyzer {
    /// Every destination a VirtualService sends to: its routes' and mirrors'.
    private func destinations(_ service: GenericObject) -> [JSONValue] {
        var out: [JSONValue] = []
        for protocolName in ["http", "tcp", "tls"] {
            for route in service.spec?[protocolName]?.elements ?? [] {
                out += (route["route"]?.elements ?? []).compactMap { $0["destination"] }
                if let mirror = route["mirror"] { out.append(mirror) }
            }
        }
        return out
    }

    func unknownSubsets(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        for service in snapshot.virtualServices where snapshot.inScope(service.metadata.namespace) {
            for destination in destinations(service) {
                guard let host = destination["host"]?.string, let subset = destination["subset"]?.string else { continue }
                let fqdn = IstioHost.qualified(host, in: service.namespace)
                let rules = snapshot.destinationRules.filter { IstioHost.qualified($0.spec?["host"]?.string ?? "", in: $0.namespace) == fqdn }
                let subsets = rules.flatMap { $0.spec?["subsets"]?.elements ?? [] }
                let defined = subsets.compactMap { $0["name"]?.string }
                guard !defined.contains(subset) else { continue }
                let known = rules.isEmpty ? "no DestinationRule has host \(host)"
                    : "\(rules.map { $0.reference("DestinationRule") }.joined(separator: ", ")) defines " + (defined.isEmpty ? "no subsets" : defined.joined(separator: ", "))
                let name = rules.first?.metadata.name ?? host.split(separator: ".").first.map(String.init) ?? host
                findings.append(finding(
                    .virtualServiceUnknownSubset, .error, namespace: service.namespace,
                    objects: [service.reference("VirtualService")] + rules.map { $0.reference("DestinationRule") },
                    message: "VirtualService \(service.namespace)/\(service.metadata.name) routes to subset \"\(subset)\" of \(host); \(known)",
                    explanation: "A route to a subset no DestinationRule defines has no endpoints: Envoy answers 503 (NR, no route) to every request it sends there.",
                    fix: "Define subset \(subset) in the DestinationRule for \(host) (with the labels of the pods it means), or route to a subset that exists.",
                    yaml: """
                        apiVersion: networking.istio.io/v1
                        kind: DestinationRule
                        metadata:
                          name: \(name)
                          namespace: \(rules.first?.namespace ?? service.namespace)
                        spec:
                          host: \(host)
                          subsets:
                        \((subsets.map { ($0["name"]?.string ?? "", $0["labels"]?.stringMap ?? [:]) } + [(subset, ["version": subset])])
                            .map { name, labels in "  - name: \(YAMLText.scalar(name))\n    labels:\n"
                                + labels.sorted { $0.key < $1.key }.map { "      \(YAMLText.scalar($0.key)): \(YAMLText.scalar($0.value))" }.joined(separator: "\n") }
                            .joined(separator: "\n"))
                        """))
            }
        }
        return findings
    }

    func gatewayReferences(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        for service in snapshot.virtualServices where snapshot.inScope(service.metadata.namespace) {
            for reference in (service.spec?["gateways"]?.elements ?? []).compactMap(\.string) where reference != "mesh" {
                let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
                let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : (service.namespace, reference)
                if snapshot.gateways.contains(where: { $0.namespace == namespace && $0.metadata.name == name }) { continue }
                let elsewhere = snapshot.gateways.filter { $0.metadata.name == name }
                let objects = [service.reference("VirtualService")] + elsewhere.map { $0.reference("Gateway") }
                if parts.count == 1, let gateway = elsewhere.first {
                    findings.append(finding(
                        .virtualServiceGatewayNamespace, .error, namespace: service.namespace, objects: objects,
                        message: "VirtualService \(service.namespace)/\(service.metadata.name) names gateway \"\(reference)\", which is in \(gateway.namespace), not \(service.namespace)",
                        explanation: "A gateway name without a namespace means the VirtualService's own namespace: the Gateway in \(gateway.namespace) never gets these routes, and requests through it find no route (404).",
                        fix: "Name it with its namespace: \(gateway.namespace)/\(name).",
                        yaml: """
                            apiVersion: networking.istio.io/v1
                            kind: VirtualService
                            metadata:
                              name: \(service.metadata.name)
                              namespace: \(service.namespace)
                            spec:
                              gateways:
                              - \(gateway.namespace)/\(name)
                            """))
                } else {
                    findings.append(finding(
                        .virtualServiceGatewayNamespace, .error, namespace: service.namespace, objects: objects,
                        message: "VirtualService \(service.namespace)/\(service.metadata.name) names gateway \"\(reference)\", and there is no Gateway \(namespace)/\(name)",
                        explanation: "Routes bound to a Gateway that does not exist are never served.",
                        fix: "Create the Gateway, or name an existing one as namespace/name."))
                }
            }
        }
        return findings
    }

    func unknownHosts(_ snapshot: ClusterSnapshot) -> [AnalysisFinding] {
        var findings: [AnalysisFinding] = []
        for rule in snapshot.destinationRules where snapshot.inScope(rule.metadata.namespace) {
            guard let host = rule.spec?["host"]?.string, let target = IstioHost.service(IstioHost.qualified(host, in: rule.namespace)),
                  snapshot.inScope(target.namespace) else { continue }
            if snapshot.services.contains(where: { $0.namespace == target.namespace && $0.metadata.name == target.name }) { continue }
            let near = snapshot.services.filter { $0.namespace == target.namespace }.map(\.metadata.name)
                .filter { EditDistance.between($0, target.name) <= 2 }.sorted()
            findings.append(finding(
                .destinationRuleUnknownHost, .warning, namespace: rule.namespace, objects: [rule.reference("DestinationRule")],
                message: "DestinationRule \(rule.namespace)/\(rule.metadata.name) is for host \(host), and there is no Service \(target.namespace)/\(target.name)"
                    + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: " or "))?"),
                explanation: "Its subsets, load balancing, connection pool and TLS settings apply to nothing: traffic to the Service you meant goes without them.",
                fix: "Set spec.host to the Service's name (\(near.first ?? "<service>").\(target.namespace).svc.cluster.local), or delete the rule."))
        }
        return findings
    }
}

/// Values from the cluster written into a suggested YAML: plain when they are plainly safe,
/// else a double-quoted (JSON) string, so a value can never add a line or a key.
enum YAMLText {
    static func scalar(_ text: String) -> String {
        if !text.isEmpty, text.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._/-".unicodeScalars.contains($0) }),
           !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(text.lowercased()), Double(text) == nil {
            return text
        }
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
