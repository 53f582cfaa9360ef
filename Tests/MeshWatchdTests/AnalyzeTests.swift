import Foundation
import MeshAnalysis
import MeshFixtures
@testable import MeshWatchdCore
import Remediation
import Testing
import Yams

/// `meshwatchd analyze` against the Kubernetes double: every check with a case it must find and
/// a case it must leave alone, the troubleshooting guide's own WRONG and CORRECT examples among them.
@Suite("meshwatchd analyze: each check found and not found, the guide's examples, output and exit codes")
struct AnalyzeTests {
    static let now = Date()
    static func ago(days: Double) -> String { ISO8601DateFormatter().string(from: now.addingTimeInterval(-days * 86400)) }
    static func ahead(days: Double) -> String { ISO8601DateFormatter().string(from: now.addingTimeInterval(days * 86400)) }

    /// Namespaces, a Service and ServiceAccounts every case shares: the guide's production
    /// namespace (in the mesh, strict mTLS mesh-wide so only the case's own policy counts).
    static let base = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: production, labels: {istio-injection: enabled}, creationTimestamp: "\(ago(days: 90))"}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: istio-system, creationTimestamp: "\(ago(days: 90))"}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: backend, namespace: production}
        spec: {selector: {app: backend}, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: frontend, namespace: production}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: backend, namespace: production}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        """

    static func deployment(_ name: String, namespace: String = "production", containers: [String], initSidecar: String? = nil,
                           annotations: [String: String] = [:], labels: [String: String] = [:]) -> String {
        let initContainers = initSidecar.map { ", initContainers: [{name: \($0), image: proxy, restartPolicy: Always}]" } ?? ""
        let podLabels = (["app": name].merging(labels) { $1 }).map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        let podAnnotations = annotations.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: \(name), namespace: \(namespace)}
            spec:
              replicas: 1
              selector: {matchLabels: {app: \(name)}}
              template:
                metadata: {labels: {\(podLabels)}, annotations: {\(podAnnotations)}}
                spec: {containers: [\(containers.map { "{name: \($0), image: \($0)}" }.joined(separator: ", "))]\(initContainers)}
            """
    }

    /// The findings of `checks` on a double seeded with the base and `yaml`.
    func analyze(_ yaml: String, checks: Set<AnalysisCheck>, namespaces: [String]? = nil, readSecrets: [String] = [],
                 base: String = AnalyzeTests.base) async throws -> [AnalysisFinding] {
        // Parsing YAML is slow in a debug build: off the two cooperative threads, which every
        // other test running meanwhile needs.
        let seed = try await offPool { () throws -> String in
            let documents = try Yams.load_all(yaml: base + "\n---\n" + yaml).compactMap { $0 as? [String: Any] }
            return String(decoding: try JSONSerialization.data(withJSONObject: documents), as: UTF8.self)
        }
        return try await withKubernetes(seed: seed) { double async throws in
            var analyzer = Analyzer(now: Self.now)
            analyzer.only = checks
            return try await AnalysisReport.make(KubernetesClient(connection: .init(server: double.url)), analyzer: analyzer,
                                                 namespaces: namespaces, readSecrets: readSecrets).findings
        }
    }

    // The guide's "Traffic Not Routing Correctly", verbatim.
    static let guideMissingSubset = """
        # WRONG: Missing subset definition
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: backend
        spec:
          hosts:
          - backend
          http:
          - route:
            - destination:
                host: backend
                subset: v2  # Subset not defined in DestinationRule
        """
    static let guideSubsetFixed = """
        # CORRECT: Define subset in DestinationRule
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: backend
        spec:
          host: backend
          subsets:
          - name: v1
            labels:
              version: v1
          - name: v2
            labels:
              version: v2
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: backend
        spec:
          hosts:
          - backend
          http:
          - route:
            - destination:
                host: backend
                subset: v2
        """

    @Test("MW101: the guide's VirtualService to an undefined subset is found, with the DestinationRule to add; its CORRECT version is clean")
    func unknownSubset() async throws {
        // The guide's objects name no namespace: they land in default, as kubectl apply would put them.
        let wrong = try await analyze(Self.guideMissingSubset, checks: [.virtualServiceUnknownSubset])
        #expect(wrong.map(\.code) == ["MW101"])
        #expect(wrong.first?.message == #"VirtualService default/backend routes to subset "v2" of backend; no DestinationRule has host backend"#)
        #expect(wrong.first?.fixYAML?.contains("  - name: v2\n    labels:\n      version: v2") == true)
        #expect(try await analyze(Self.guideSubsetFixed, checks: [.virtualServiceUnknownSubset]).isEmpty)
        // A DestinationRule for the host with only v1: found, and it says what is defined.
        let partial = try await analyze(Self.guideSubsetFixed.replacingOccurrences(of: "  - name: v2\n    labels:\n      version: v2\n", with: ""),
                                        checks: [.virtualServiceUnknownSubset])
        #expect(partial.first?.message.hasSuffix("DestinationRule default/backend defines v1") == true, "\(partial)")
        // A fully qualified host in another namespace's rule is the same host.
        let qualified = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: backend, namespace: production}
            spec: {hosts: [backend], http: [{route: [{destination: {host: backend.production.svc.cluster.local, subset: v2}}]}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: backend, namespace: production}
            spec: {host: backend, subsets: [{name: v2, labels: {version: v2}}]}
            """
        #expect(try await analyze(qualified, checks: [.virtualServiceUnknownSubset]).isEmpty)
    }

    @Test("MW102: the guide's VirtualService naming another namespace's Gateway without namespace/ is found; its fix is clean")
    func gatewayNamespace() async throws {
        let wrong = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: https-gateway
              namespace: istio-system
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api-routing
              namespace: production
            spec:
              gateways:
              - https-gateway  # WRONG: Should be "istio-system/https-gateway"
            """
        let found = try await analyze(wrong, checks: [.virtualServiceGatewayNamespace])
        #expect(found.map(\.code) == ["MW102"])
        #expect(found.first?.fix == "Name it with its namespace: istio-system/https-gateway.")
        #expect(found.first?.objects == ["VirtualService production/api-routing", "Gateway istio-system/https-gateway"])
        #expect(try await analyze(wrong.replacingOccurrences(of: "- https-gateway  # WRONG", with: "- istio-system/https-gateway  # CORRECT"),
                                  checks: [.virtualServiceGatewayNamespace]).isEmpty)
        let missing = try await analyze(wrong.replacingOccurrences(of: "- https-gateway  # WRONG", with: "- istio-system/http-gateway  # typo"),
                                        checks: [.virtualServiceGatewayNamespace])
        #expect(missing.first?.message.contains("there is no Gateway istio-system/http-gateway") == true)
    }

    @Test("MW103: the guide's principal typo (fronted) is found with \"did you mean frontend\"; the right principal is clean")
    func unknownPrincipal() async throws {
        // The guide's WRONG policy, with the metadata its excerpt leaves out.
        let wrong = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-frontend, namespace: production}
            spec:
              rules:
              - from:
                - source:
                    principals:
                    - cluster.local/ns/production/sa/fronted  # Typo: "fronted" not "frontend"
            """
        let found = try await analyze(wrong, checks: [.authorizationUnknownPrincipal])
        #expect(found.map(\.code) == ["MW103"])
        #expect(found.first?.message.hasSuffix(#"there is no ServiceAccount production/fronted; did you mean "frontend"?"#) == true, "\(found)")
        #expect(try await analyze(wrong.replacingOccurrences(of: "sa/fronted", with: "sa/frontend"), checks: [.authorizationUnknownPrincipal]).isEmpty)
        #expect(try await analyze(wrong.replacingOccurrences(of: "sa/fronted", with: "sa/*"), checks: [.authorizationUnknownPrincipal]).isEmpty)
        let namespace = try await analyze(wrong.replacingOccurrences(of: "ns/production/sa/fronted", with: "ns/prod/sa/frontend"),
                                          checks: [.authorizationUnknownPrincipal])
        #expect(namespace.first?.message.hasSuffix("there is no namespace prod") == true)
    }

    @Test("MW104: a DestinationRule for a host no Service has is found (did you mean); a real Service or an external host is clean")
    func unknownHost() async throws {
        let rule = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: backend, namespace: production}
            spec: {host: backnd}
            """
        let found = try await analyze(rule, checks: [.destinationRuleUnknownHost])
        #expect(found.first?.message.hasSuffix("there is no Service production/backnd; did you mean backend?") == true, "\(found)")
        #expect(try await analyze(rule.replacingOccurrences(of: "host: backnd", with: "host: backend"), checks: [.destinationRuleUnknownHost]).isEmpty)
        #expect(try await analyze(rule.replacingOccurrences(of: "host: backnd", with: "host: api.example.com"), checks: [.destinationRuleUnknownHost]).isEmpty)
    }

    @Test("MW105/MW106: pods without the sidecar in an injected namespace, and with one in a namespace that is not; opt-outs and native sidecars are clean")
    func injection() async throws {
        let missing = try await analyze(Self.deployment("backend", containers: ["backend"]), checks: [.injectionMissingSidecar, .sidecarOutsideInjection])
        #expect(missing.map(\.code) == ["MW105"])
        #expect(missing.first?.message.contains("1 running pods have no istio-proxy sidecar: backend-") == true)
        for clean in [Self.deployment("backend", containers: ["backend", "istio-proxy"]),
                      Self.deployment("backend", containers: ["backend"], initSidecar: "istio-proxy"),
                      Self.deployment("backend", containers: ["backend"], annotations: ["sidecar.istio.io/inject": "false"])] {
            #expect(try await analyze(clean, checks: [.injectionMissingSidecar, .sidecarOutsideInjection]).isEmpty, "\(clean)")
        }
        // A revision label counts as injection.
        let revision = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: payments, labels: {istio.io/rev: 1-22}}
            ---
            \(Self.deployment("pay", namespace: "payments", containers: ["pay"]))
            """
        #expect(try await analyze(revision, checks: [.injectionMissingSidecar]).map(\.namespace) == ["payments"])
        // A sidecar where the namespace is not labelled.
        let outside = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: web}
            ---
            \(Self.deployment("site", namespace: "web", containers: ["site", "istio-proxy"]))
            """
        let found = try await analyze(outside, checks: [.injectionMissingSidecar, .sidecarOutsideInjection])
        #expect(found.map(\.code) == ["MW106"])
        #expect(try await analyze(outside.replacingOccurrences(of: "{name: web}", with: "{name: web, labels: {istio-injection: enabled}}"),
                                  checks: [.sidecarOutsideInjection]).isEmpty)
    }

    @Test("MW107/MW108: DISABLE found; PERMISSIVE found past its age (explicit, and Istio's default without a policy); STRICT or a young PERMISSIVE clean")
    func peerAuthentication() async throws {
        func policy(_ mode: String, days: Double) -> String {
            """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: production, creationTimestamp: "\(Self.ago(days: days))"}
            spec: {mtls: {mode: \(mode)}}
            """
        }
        let checks: Set<AnalysisCheck> = [.peerAuthenticationDisabled, .peerAuthenticationPermissive]
        #expect(try await analyze(policy("DISABLE", days: 1), checks: checks).map(\.code) == ["MW107"])
        let old = try await analyze(policy("PERMISSIVE", days: 30), checks: checks)
        #expect(old.map(\.code) == ["MW108"])
        #expect(old.first?.message.contains("has been PERMISSIVE for 30 days (more than 7 days)") == true, "\(old)")
        #expect(try await analyze(policy("PERMISSIVE", days: 2), checks: checks).isEmpty)
        #expect(try await analyze(policy("STRICT", days: 30), checks: checks).isEmpty)
        // No PeerAuthentication anywhere: Istio's default is PERMISSIVE, counted from the namespace's creation.
        let noPolicy = AnalyzeTests.base.replacingOccurrences(of: "spec: {mtls: {mode: STRICT}}", with: "spec: {}")
        let byDefault = try await analyze("", checks: checks, base: noPolicy)
        #expect(byDefault.map(\.objects) == [["Namespace production"]], "\(byDefault)")
        #expect(byDefault.first?.message.contains("Istio's default, PERMISSIVE, for 90 days") == true)
    }

    @Test("MW109: a gateway certificate expiring soon (cert-manager status) or a named Secret missing is found; a fresh one is clean; Secrets are not read unless named")
    func gatewayCertificate() async throws {
        func gateway(notAfter days: Double?) -> String {
            var yaml = """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: https-gateway, namespace: istio-system}
                spec:
                  selector: {istio: ingressgateway}
                  servers:
                  - port: {number: 443, name: https, protocol: HTTPS}
                    hosts: ["api.example.com"]
                    tls: {mode: SIMPLE, credentialName: api-cert}
                """
            if let days {
                yaml += """

                    ---
                    apiVersion: cert-manager.io/v1
                    kind: Certificate
                    metadata: {name: api, namespace: istio-system}
                    spec: {secretName: api-cert}
                    status: {notAfter: "\(Self.ahead(days: days))", conditions: [{type: Ready, status: "True"}]}
                    """
            }
            return yaml
        }
        let soon = try await analyze(gateway(notAfter: 3), checks: [.gatewayTLSSecret])
        #expect(soon.map(\.severity) == [.warning] && soon.first?.message.contains("expires in 3") == true, "\(soon)")
        #expect(try await analyze(gateway(notAfter: -1), checks: [.gatewayTLSSecret]).map(\.severity) == [.error])
        #expect(try await analyze(gateway(notAfter: 60), checks: [.gatewayTLSSecret]).isEmpty)
        let unread = try await analyze(gateway(notAfter: nil), checks: [.gatewayTLSSecret])
        #expect(unread.map(\.severity) == [.info], "\(unread)")
        let missing = try await analyze(gateway(notAfter: nil), checks: [.gatewayTLSSecret], readSecrets: ["istio-system/api-cert"])
        #expect(missing.map(\.severity) == [.error] && missing.first?.message.hasSuffix("does not exist in istio-system") == true, "\(missing)")
    }

    @Test("MW110: a deny-all with nothing allowed is found; with an ALLOW policy for the callers it is clean")
    func denyAll() async throws {
        let denyAll = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-all, namespace: production}
            spec: {}
            """
        let found = try await analyze(denyAll, checks: [.denyAllWithoutAllow])
        #expect(found.map(\.code) == ["MW110"])
        #expect(found.first?.fixYAML?.contains("cluster.local/ns/production/sa/frontend") == true)
        let allowed = denyAll + """

            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-frontend, namespace: production}
            spec: {action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/production/sa/frontend]}}]}]}
            """
        #expect(try await analyze(allowed, checks: [.denyAllWithoutAllow]).isEmpty)
    }

    @Test("MW201 and MW301: Linkerd-meshed pods in a namespace without the inject annotation; a CiliumNetworkPolicy selecting nothing")
    func linkerdAndCilium() async throws {
        let linkerd = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            \(Self.deployment("web", namespace: "shop", containers: ["web", "linkerd-proxy"]))
            """
        #expect(try await analyze(linkerd, checks: [.linkerdNamespaceNotAnnotated]).map(\.code) == ["MW201"])
        #expect(try await analyze(linkerd.replacingOccurrences(of: "{name: shop}", with: "{name: shop, annotations: {linkerd.io/inject: enabled}}"),
                                  checks: [.linkerdNamespaceNotAnnotated]).isEmpty)
        let cilium = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            \(Self.deployment("cart", namespace: "shop", containers: ["cart"]))
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: cart-ingress, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: cartt}}
              ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
            """
        let found = try await analyze(cilium, checks: [.ciliumPolicySelectsNothing])
        #expect(found.map(\.code) == ["MW301"] && found.first?.message.contains("no pod in shop has app=cartt") == true, "\(found)")
        for selector in ["{matchLabels: {app: cart}}", "{matchLabels: {k8s:app: cart}}", "{matchExpressions: [{key: app, operator: In, values: [cart, web]}]}"] {
            #expect(try await analyze(cilium.replacingOccurrences(of: "{matchLabels: {app: cartt}}", with: selector),
                                      checks: [.ciliumPolicySelectsNothing]).isEmpty, "\(selector)")
        }
    }

    @Test("what the review found: scoped principals elsewhere are not judged, port-level DISABLE without a selector is ignored, Linkerd's own namespace is left alone, a gateway's certificate is looked up where its pods run, dotted hosts are taken as written")
    func istioSemantics() async throws {
        // A principal of a namespace outside the scope, with no ServiceAccount listed there: not judged.
        let ingress = """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: from-ingress, namespace: production}
            spec: {rules: [{from: [{source: {principals: [cluster.local/ns/gateways/sa/ingress]}}]}]}
            """
        #expect(try await analyze(ingress, checks: [.authorizationUnknownPrincipal], namespaces: ["production"]).isEmpty)
        #expect(try await analyze(ingress, checks: [.authorizationUnknownPrincipal]).first?.message.hasSuffix("there is no namespace gateways") == true)
        // Port-level settings count only with a selector (Istio ignores them otherwise).
        let portLevel = """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ports, namespace: production}
            spec: {mtls: {mode: STRICT}, portLevelMtls: {"8080": {mode: DISABLE}}}
            """
        #expect(try await analyze(portLevel, checks: [.peerAuthenticationDisabled]).isEmpty)
        #expect(try await analyze(portLevel.replacingOccurrences(of: "spec: {mtls", with: "spec: {selector: {matchLabels: {app: backend}}, mtls"),
                                  checks: [.peerAuthenticationDisabled]).map(\.code) == ["MW107"])
        // Linkerd's namespace says disabled and its control plane runs proxies: not a finding.
        let linkerd = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: linkerd, annotations: {linkerd.io/inject: disabled}}
            ---
            \(Self.deployment("linkerd-destination", namespace: "linkerd", containers: ["destination", "linkerd-proxy"]))
            """
        #expect(try await analyze(linkerd, checks: [.linkerdNamespaceNotAnnotated]).isEmpty)
        // The Gateway in production, its pods and certificate in istio-system: found there, expiring.
        let gateway = """
            \(Self.deployment("istio-ingressgateway", namespace: "istio-system", containers: ["istio-proxy"], labels: ["istio": "ingressgateway"]))
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: api, namespace: production}
            spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: api-cert}}]}
            ---
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata: {name: api, namespace: istio-system}
            spec: {secretName: api-cert}
            status: {notAfter: "\(Self.ahead(days: 2))", conditions: [{type: Ready, status: "True"}]}
            """
        let found = try await analyze(gateway, checks: [.gatewayTLSSecret])
        #expect(found.map(\.severity) == [.warning] && found.first?.objects.last == "Certificate istio-system/api", "\(found)")
        // `backend.production` has a dot: Istio takes it as written (no Service by that name in the mesh's registry), not as backend's.
        let dotted = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: backend, namespace: production}
            spec: {hosts: [backend], http: [{route: [{destination: {host: backend, subset: v2}}]}]}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: backend, namespace: production}
            spec: {host: backend.production, subsets: [{name: v2, labels: {version: v2}}]}
            """
        #expect(try await analyze(dotted, checks: [.virtualServiceUnknownSubset]).map(\.code) == ["MW101"])
    }

    @Test("lists are read in pages: 600 ServiceAccounts, the last one found, one past it missing")
    func paging() async throws {
        let accounts = (0..<600).map { "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa-\($0), namespace: production}" }.joined(separator: "\n---\n")
        func policy(_ account: String) -> String {
            accounts + """

                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: allow, namespace: production}
                spec: {rules: [{from: [{source: {principals: [cluster.local/ns/production/sa/\(account)]}}]}]}
                """
        }
        #expect(try await analyze(policy("sa-599"), checks: [.authorizationUnknownPrincipal]).isEmpty)
        #expect(try await analyze(policy("sa-600"), checks: [.authorizationUnknownPrincipal]).map(\.code) == ["MW103"])
    }

    @Test("the command: table, json and jsonl; --namespace; exit 1 when something is found, 0 when clean, 3 when the API cannot be read")
    func command() async throws {
        let documents = try Yams.load_all(yaml: Self.base + "\n---\n" + Self.guideMissingSubset.replacingOccurrences(of: "  name: backend\n", with: "  name: backend\n  namespace: production\n"))
            .compactMap { $0 }
        let seed = String(decoding: try JSONSerialization.data(withJSONObject: documents), as: UTF8.self)
        let cli = CommandLineTests()
        let directory = NSTemporaryDirectory() + "meshwatchd-analyze-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withKubernetes(seed: seed, token: "analyze-token") { double async throws in
            try double.kubeconfig(user: "{token: analyze-token}").write(toFile: directory + "/kubeconfig", atomically: true, encoding: .utf8)
            try double.kubeconfig(user: "{token: wrong}").write(toFile: directory + "/wrong", atomically: true, encoding: .utf8)
            let table = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/kubeconfig"])
            #expect(table.status == 1, "\(table.stderr)")
            #expect(table.stdout.contains("ERROR MW101 virtualservice-unknown-subset (istio)"), "\(table.stdout)")
            #expect(table.stdout.contains("    kind: DestinationRule") && table.stdout.contains("findings: 1 error"), "\(table.stdout)")
            let jsonl = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/kubeconfig", "--output", "jsonl", "--check", "MW101"])
            let lines = jsonl.stdout.split(separator: "\n")
            #expect(lines.count == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(object["code"] as? String == "MW101" && (object["objects"] as? [String]) == ["VirtualService production/backend"])
            let json = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/kubeconfig", "--output", "json", "--check", "MW101"])
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect((document["findings"] as? [[String: Any]])?.count == 1)
            #expect((document["notInstalled"] as? [String]) == [])
            // Another namespace is clean: exit 0.
            let clean = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/kubeconfig", "--namespace", "istio-system"])
            #expect(clean.status == 0 && clean.stdout.contains("No configuration problems found."), "\(clean.stdout)\(clean.stderr)")
            // The API refuses: not a clean mesh, its own exit code.
            let refused = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/wrong"])
            #expect(refused.status == 3, "\(refused.stdout)")
            #expect(refused.stderr.contains("the Kubernetes API could not be read"), "\(refused.stderr)")
            let bad = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/kubeconfig", "--output", "yaml"])
            #expect(bad.status == 64)
            let missing = try await cli.meshwatchd(["analyze", "--kubeconfig", directory + "/kubeconfig", "--namespace", "nope"])
            #expect(missing.status == 3 && missing.stderr.contains("namespace nope does not exist"), "\(missing.stderr)")
        }
    }
}
