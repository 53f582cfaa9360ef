import Foundation
import MeshFixtures
@testable import MeshWatchdCore
import Testing
import Yams

@Suite("deploy/k8s: valid manifests, the narrowest RBAC, a configuration that loads")
struct DeployManifestTests {
    static let k8s = PackTests.root + "/deploy/k8s"
    /// The base (`kubectl apply -k deploy/k8s` installs it); the overlays live apart, in overlays/, since
    /// kustomize refuses an overlay inside its base's directory.
    static let directory = k8s + "/base"
    /// deploy/k8s/overlays/*, each the base plus one addition.
    static let overlays = ["analyze", "example", "servicemonitor"]
    /// deploy/k8s/components/*: kustomize Components, so they compose; overlays/analyze and overlays/servicemonitor
    /// are the base plus one, and the example lists them (commented out) to add them to the Secret it generates.
    static let components = ["analyze", "servicemonitor"]
    /// What validate.py renders besides the base and the overlays: the example with both components, as the README combines them.
    static let combinations = ["example+servicemonitor+analyze"]
    /// The tools venv's Python, with kubernetes-validate and jsonschema (scripts/install-deps.sh --test-tools).
    static let python = PackTests.root + "/.build/tools/bin/python"

    static var manifests: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
    }

    func documents(_ file: String) throws -> [[String: Any]] {
        try Yams.load_all(yaml: String(contentsOfFile: Self.directory + "/" + file, encoding: .utf8)).compactMap { $0 as? [String: Any] }
    }

    @Test("every manifest passes kubernetes-validate --strict against Kubernetes 1.32's schemas")
    func validate() async throws {
        let tool = PackTests.root + "/.build/tools/bin/kubernetes-validate"
        #expect(FileManager.default.isExecutableFile(atPath: tool), "run scripts/install-deps.sh --test-tools")
        #expect(Self.manifests.count >= 9)
        let run = try await ChildProcess.run(tool, ["--strict", "--quiet", "-k", "1.32.0"] + Self.manifests.map { Self.directory + "/" + $0 })
        #expect(run.status == 0, "\(run.output)")
        // The kustomization lists every manifest.
        let kustomization = try #require(try Yams.load(yaml: String(contentsOfFile: Self.directory + "/kustomization.yaml", encoding: .utf8)) as? [String: Any])
        #expect(Set(kustomization["resources"] as? [String] ?? []) == Set(Self.manifests))
    }

    @Test("RBAC writes only patch on deployments and the Lease in its own namespace; the base reads no Secret")
    func narrowRBAC() throws {
        var writes: [String] = []
        for document in try documents("rbac.yaml") {
            let kind = document["kind"] as? String ?? ""
            guard kind == "ClusterRole" || kind == "Role" else { continue }
            let namespace = (document["metadata"] as? [String: Any])?["namespace"] as? String ?? "*"
            for rule in document["rules"] as? [[String: Any]] ?? [] {
                let verbs = Set(rule["verbs"] as? [String] ?? [])
                #expect(!verbs.contains("*") && !verbs.contains("delete") && !verbs.contains("deletecollection") && !verbs.contains("escalate"))
                for resource in rule["resources"] as? [String] ?? [] {
                    for verb in verbs.subtracting(["get", "list"]).sorted() { writes.append("\(namespace) \(resource) \(verb)") }
                    #expect(resource != "secrets", "the base reads no Secret (see rbac.yaml's header for a Role by resourceNames)")
                }
            }
        }
        // "*": a ClusterRole, which only RoleBindings bind (see everyWriteNamespaced).
        #expect(writes.sorted() == ["* deployments patch", "meshwatchd configmaps update", "meshwatchd leases create", "meshwatchd leases update"])
    }

    /// Verbs that change something; "*" includes them all.
    static let writeVerbs: Set<String> = ["create", "update", "patch", "delete", "deletecollection", "*"]

    /// One rule of a Role or ClusterRole.
    struct RBACRule {
        var role: String
        var verbs: Set<String>
        var resources: Set<String>
        var resourceNames: [String]

        var writes: Bool { !verbs.isDisjoint(with: DeployManifestTests.writeVerbs) }

        /// As the API server matches: the resource itself, "*", or "*/subresource".
        func covers(_ resource: String) -> Bool {
            if resources.contains(resource) || resources.contains("*") { return true }
            guard let slash = resource.firstIndex(of: "/") else { return false }
            return resources.contains("*" + String(resource[slash...]))
        }
    }

    /// A rule as a binding grants it: in `namespace`, or cluster-wide when nil (a ClusterRoleBinding).
    struct RBACGrant {
        var binding: String
        var namespace: String?
        var rule: RBACRule
    }

    /// Every Role's and ClusterRole's rules, in every manifest (not only rbac.yaml).
    func rules() throws -> [String: [RBACRule]] {
        var found: [String: [RBACRule]] = [:]
        for file in Self.manifests {
            for document in try documents(file) {
                let kind = document["kind"] as? String ?? ""
                guard kind == "ClusterRole" || kind == "Role" else { continue }
                let metadata = document["metadata"] as? [String: Any] ?? [:]
                let name = metadata["name"] as? String ?? ""
                let key = kind == "ClusterRole" ? "ClusterRole \(name)" : "Role \(metadata["namespace"] as? String ?? "")/\(name)"
                found[key] = (document["rules"] as? [[String: Any]] ?? []).map { rule in
                    RBACRule(role: key, verbs: Set(rule["verbs"] as? [String] ?? []), resources: Set(rule["resources"] as? [String] ?? []),
                             resourceNames: rule["resourceNames"] as? [String] ?? [])
                }
            }
        }
        return found
    }

    /// Every rule the bindings in the manifests grant, with where they grant it.
    func grants() throws -> [RBACGrant] {
        let roles = try rules()
        var found: [RBACGrant] = []
        for file in Self.manifests {
            for document in try documents(file) {
                let kind = document["kind"] as? String ?? ""
                guard kind == "ClusterRoleBinding" || kind == "RoleBinding" else { continue }
                let metadata = document["metadata"] as? [String: Any] ?? [:]
                let namespace: String? = kind == "RoleBinding" ? (metadata["namespace"] as? String ?? "") : nil
                let roleRef = document["roleRef"] as? [String: Any] ?? [:]
                let roleName = roleRef["name"] as? String ?? ""
                let key = (roleRef["kind"] as? String) == "ClusterRole" ? "ClusterRole \(roleName)" : "Role \(namespace ?? "")/\(roleName)"
                let name = metadata["name"] as? String ?? ""
                let binding = namespace.map { "\(kind) \($0)/\(name)" } ?? "\(kind) \(name)"
                let bound = try #require(roles[key], "\(binding) binds \(key), which no manifest defines")
                found += bound.map { RBACGrant(binding: binding, namespace: namespace, rule: $0) }
            }
        }
        return found
    }

    /// The configuration the ConfigMap holds.
    func deployedConfiguration() throws -> Configuration {
        let configMap = try #require(try documents("configmap.yaml").first)
        let json = try #require((configMap["data"] as? [String: Any])?["config.json"] as? String)
        return try ConfigurationDocument(text: json, file: "config.json").decode(Configuration.self).value
    }

    @Test("every write is namespaced: no ClusterRoleBinding binds a role that creates, updates, patches or deletes")
    func everyWriteNamespaced() throws {
        let granted = try grants()
        #expect(!granted.isEmpty)
        let clusterWide = granted.filter { $0.namespace == nil && $0.rule.writes }.map { "\($0.binding): \($0.rule.verbs.sorted()) \($0.rule.resources.sorted())" }
        #expect(clusterWide.isEmpty, "\(clusterWide)")
    }

    @Test("Secrets: never listed or watched by any rule; a Secret read at all is read by resourceNames")
    func secretsByName() throws {
        for rule in try rules().values.joined() where rule.covers("secrets") {
            #expect(rule.verbs.isDisjoint(with: ["list", "watch", "*"]), "\(rule.role) lists or watches secrets: \(rule.verbs.sorted())")
            #expect(!rule.resourceNames.isEmpty, "\(rule.role) reads secrets without resourceNames")
        }
    }

    @Test("pod logs only through RoleBindings, never cluster-wide or in kube-system")
    func logsNamespaced() throws {
        let logs = try grants().filter { $0.rule.covers("pods/log") && !$0.rule.verbs.isEmpty }
        #expect(!logs.isEmpty, "the logs steps read pods/log somewhere")
        for grant in logs {
            #expect(grant.namespace != nil, "\(grant.binding) grants pods/log in every namespace")
            #expect(grant.namespace != "kube-system", "\(grant.binding) grants pods/log in kube-system")
        }
    }

    @Test("own namespace: the Lease read and updated by its name, created by a rule of its own; the kill-switch ConfigMap by name")
    func leaseAndKillSwitchByName() throws {
        let configuration = try deployedConfiguration()
        let own = try #require(configuration.remediation?.ownNamespace)
        let lease = configuration.leaderElection?.name ?? "meshwatchd"
        let granted = try grants()
        let leases = granted.filter { $0.rule.covers("leases") }
        let leaseVerbs = leases.reduce(into: Set<String>()) { $0.formUnion($1.rule.verbs) }
        #expect(leaseVerbs == ["get", "create", "update"])
        for grant in leases {
            #expect(grant.namespace == own, "\(grant.binding) grants leases outside \(own)")
            if grant.rule.verbs.contains("create") {
                // create cannot be limited by name: a rule with resourceNames would never match it.
                #expect(grant.rule.verbs == ["create"] && grant.rule.resourceNames.isEmpty, "\(grant.binding): create on leases is a rule of its own")
            }
            let named = grant.rule.verbs.subtracting(["create"])
            if !named.isEmpty {
                #expect(grant.rule.resourceNames == [lease], "\(grant.binding) grants \(named.sorted()) on leases without resourceNames [\(lease)]")
            }
        }
        let killSwitch = try #require(configuration.remediation?.killSwitchConfigmap)
        let silences = configuration.web?.stateConfigmap ?? ConfigurationDefaults.stateConfigMap
        let configMaps = granted.filter { $0.rule.covers("configmaps") }
        #expect(configMaps.count == 2)
        for grant in configMaps {
            // The kill switch is only read; the silences ConfigMap read and replaced; both by name, in its own namespace.
            let expected: (Set<String>, [String]) = grant.rule.resourceNames == [killSwitch.name] ? (["get"], [killSwitch.name]) : (["get", "update"], [silences])
            #expect(grant.namespace == own && grant.rule.verbs == expected.0 && grant.rule.resourceNames == expected.1, "\(grant.binding)")
        }
        // The ConfigMap it replaces ships with the manifests (create is not granted).
        let shipped = try documents("silences-configmap.yaml").first
        #expect((shipped?["metadata"] as? [String: Any])?["name"] as? String == silences)
        #expect((shipped?["metadata"] as? [String: Any])?["namespace"] as? String == own)
    }

    @Test("remediation writes exactly in remediation.allow_namespaces, never in kube-system, istio-system or its own namespace")
    func writeNamespacesAreAllowNamespaces() throws {
        let configuration = try deployedConfiguration()
        let own = try #require(configuration.remediation?.ownNamespace)
        let allowed = Set(configuration.remediation?.allowNamespaces ?? [])
        #expect(!allowed.isEmpty, "remediation.allow_namespaces names the namespaces rbac.yaml lets it write")
        // The Lease and the silences ConfigMap in its own namespace are the daemon's, not remediation's
        // (see leaseAndKillSwitchByName).
        let silences = configuration.web?.stateConfigmap ?? ConfigurationDefaults.stateConfigMap
        let writes = try grants().filter {
            $0.rule.writes && !($0.namespace == own && ($0.rule.resources == ["leases"]
                                                       || ($0.rule.resources == ["configmaps"] && $0.rule.resourceNames == [silences])))
        }
        #expect(!writes.isEmpty)
        let clusterWide = writes.filter { $0.namespace == nil }.map(\.binding)
        #expect(clusterWide.isEmpty, "\(clusterWide)")
        let namespaces = Set(writes.compactMap(\.namespace))
        #expect(namespaces == allowed)
        #expect(namespaces.isDisjoint(with: ["kube-system", "istio-system", own]), "\(namespaces.sorted())")
    }

    @Test("the NetworkPolicy: every egress rule names its ports, and a destination where one is known (DNS, Prometheus, Alertmanager)")
    func egressNamed() throws {
        let policies = try documents("networkpolicy.yaml").filter { ($0["kind"] as? String) == "NetworkPolicy" }
        let policy = try #require(policies.first)
        let spec = try #require(policy["spec"] as? [String: Any])
        #expect((spec["policyTypes"] as? [String] ?? []).contains("Egress"))
        let egress = spec["egress"] as? [[String: Any]] ?? []
        #expect(!egress.isEmpty)
        var namespacesByPort: [Int: Set<String>] = [:]
        for rule in egress {
            let ports = (rule["ports"] as? [[String: Any]] ?? []).compactMap { $0["port"] as? Int }
            #expect(!(rule["ports"] as? [[String: Any]] ?? []).isEmpty, "an egress rule to every port: \(rule)")
            let peers = rule["to"] as? [[String: Any]] ?? []
            // Only the API server and HTTPS receivers have no selector that could name them.
            if !Set(ports).isSubset(of: [443, 6443]) { #expect(!peers.isEmpty, "egress on \(ports.sorted()) to anywhere") }
            for peer in peers {
                guard let name = ((peer["namespaceSelector"] as? [String: Any])?["matchLabels"] as? [String: Any])?["kubernetes.io/metadata.name"] as? String else { continue }
                for port in ports { namespacesByPort[port, default: []].insert(name) }
            }
        }
        #expect(namespacesByPort[53, default: []] == ["kube-system"])
        // Prometheus where prometheus.url points: http://NAME.NAMESPACE.svc:PORT.
        let prometheusURL = try deployedConfiguration().prometheus?.url ?? ""
        let url = try #require(URLComponents(string: prometheusURL))
        let labels = (url.host ?? "").split(separator: ".").map(String.init)
        let port = try #require(url.port)
        #expect(labels.count >= 3, "prometheus.url names a Service in the cluster")
        if labels.count >= 3 {
            #expect(labels[2] == "svc", "prometheus.url names a Service in the cluster")
            #expect(namespacesByPort[port, default: []].contains(labels[1]), "no egress to \(labels[1]) on \(port)")
        }
    }

    @Test("the Deployment: two replicas, probes on the status endpoints, non-root, read-only root, limits; the ConfigMap's configuration loads")
    func deployment() throws {
        let deployment = try #require(try documents("deployment.yaml").first)
        let spec = try #require(deployment["spec"] as? [String: Any])
        #expect(spec["replicas"] as? Int == 2)
        let pod = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect((pod["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true)
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        #expect(((container["livenessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/healthz")
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/readyz")
        #expect((container["securityContext"] as? [String: Any])?["readOnlyRootFilesystem"] as? Bool == true)
        #expect(((container["resources"] as? [String: Any])?["limits"] as? [String: Any])?["memory"] != nil)
        // The configuration as a directory, never a subPath (a subPath mount never sees the ConfigMap change).
        let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
        let configMount = try #require(mounts.first { $0["name"] as? String == "config" })
        #expect(configMount["subPath"] == nil)
        let mountPath = try #require(configMount["mountPath"] as? String)
        let args = container["args"] as? [String] ?? []
        #expect(args.firstIndex(of: "--config").map { args[$0 + 1].hasPrefix(mountPath + "/") } == true, "\(args)")

        let configMap = try #require(try documents("configmap.yaml").first)
        let json = try #require((configMap["data"] as? [String: Any])?["config.json"] as? String)
        let file = NSTemporaryDirectory() + "meshwatchd-deploy-config-" + UUID().uuidString + ".json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        // Read as the daemon reads it: strictly, every key known. Only the secret files, which exist in the pod, cannot be read here.
        let (configuration, found) = Configuration.check(path: file)
        let problems = found.map(\.description).filter { !$0.contains("cannot read /etc/meshwatchd/secrets/") }
        #expect(problems.isEmpty, "\(problems)")
        #expect(configuration?.leaderElection?.enabled == true)
        #expect(configuration?.remediation?.mode?.value == .dryRun)  // enforce is a decision for the operator
        #expect(configuration?.listenAddress == "0.0.0.0:9819")  // the kubelet probes the pod's address
    }

    @Test("the analyze component and overlay: valid, and cluster-wide it only gets and lists configuration, never Secrets or pod logs")
    func analyzeOverlay() async throws {
        let component = Self.k8s + "/components/analyze"
        let tool = PackTests.root + "/.build/tools/bin/kubernetes-validate"
        let run = try await ChildProcess.run(tool, ["--strict", "--quiet", "-k", "1.32.0", component + "/rbac-analyze.yaml"])
        #expect(run.status == 0, "\(run.output)")
        let kustomization = try #require(try Yams.load(yaml: String(contentsOfFile: component + "/kustomization.yaml", encoding: .utf8)) as? [String: Any])
        #expect(kustomization["apiVersion"] as? String == "kustomize.config.k8s.io/v1alpha1" && kustomization["kind"] as? String == "Component")
        #expect(kustomization["resources"] as? [String] == ["rbac-analyze.yaml"])
        // The overlay is the base plus the component, nothing of its own.
        let overlay = try #require(try Yams.load(yaml: String(contentsOfFile: Self.k8s + "/overlays/analyze/kustomization.yaml", encoding: .utf8)) as? [String: Any])
        #expect(overlay["resources"] as? [String] == ["../../base"])
        #expect(overlay["components"] as? [String] == ["../../components/analyze"])
        var resources: Set<String> = []
        for document in try Yams.load_all(yaml: String(contentsOfFile: component + "/rbac-analyze.yaml", encoding: .utf8)).compactMap({ $0 as? [String: Any] }) {
            for rule in document["rules"] as? [[String: Any]] ?? [] {
                #expect(Set(rule["verbs"] as? [String] ?? []) == ["get", "list"])
                resources.formUnion(rule["resources"] as? [String] ?? [])
            }
        }
        #expect(!resources.contains("secrets") && !resources.contains("pods/log") && !resources.contains("configmaps"))
        // Everything ClusterSnapshot.read lists is granted.
        #expect(resources.isSuperset(of: ["namespaces", "pods", "services", "serviceaccounts", "virtualservices", "destinationrules", "gateways",
                                          "authorizationpolicies", "peerauthentications", "certificates", "ciliumnetworkpolicies"]))
    }

    @Test("the base, each overlay and the example with both components render with kubectl kustomize and validate: kubernetes-validate --strict, the ServiceMonitor against its CRD's schema",
          arguments: ["base"] + DeployManifestTests.overlays + DeployManifestTests.combinations)
    func overlayValidates(_ overlay: String) async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.python), "run scripts/install-deps.sh --test-tools")
        // deploy/k8s/validate.py renders a copy of deploy/k8s (the example's secrets written there by make-secrets.sh).
        let run = try await ChildProcess.run(Self.python, [Self.k8s + "/validate.py", overlay])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("validate: ok   \(overlay): "), "\(run.output)")
        #expect(!run.output.contains("validate: FAIL") && !run.output.contains("Traceback"), "\(run.output)")
        let parts = overlay.split(separator: "+").map(String.init)
        if parts.contains("servicemonitor") { #expect(run.output.contains("and the vendored ServiceMonitor schema (closed)"), "\(run.output)") }
        // What it names is in it: the ServiceMonitor, the analyze ClusterRole and its binding, the example's Secret.
        let summary = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("validate: ok   \(overlay): ") }.map(String.init))
        #expect(summary.contains("ServiceMonitor") == parts.contains("servicemonitor"), "\(summary)")
        #expect(summary.contains("ClusterRoleBinding") == parts.contains("analyze"), "\(summary)")
        #expect(summary.contains("Secret,") == parts.contains("example"), "\(summary)")
    }

    @Test("a broken ServiceMonitor is refused with the field named: a misspelt field (the vendored schema closed), a wrong type, metadata, a kind with no schema")
    func brokenServiceMonitor() async throws {
        let shipped = Self.k8s + "/components/servicemonitor/servicemonitor.yaml"
        let original = try String(contentsOfFile: shipped, encoding: .utf8)
        let work = NSTemporaryDirectory() + "meshwatchd-servicemonitor-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let intact = try await ChildProcess.run(Self.python, [Self.k8s + "/validate.py", "--file", shipped])
        #expect(intact.status == 0, "\(intact.output)")
        let cases: [(from: String, to: String, expected: String)] = [
            ("  endpoints:", "  endpoint:", "ServiceMonitor meshwatchd/meshwatchd: spec.endpoint: unknown field"),
            // Optional, so only the closed schema catches it: the CRD's own leaves unknown fields to pruning.
            ("interval: 30s", "intreval: 30s", "ServiceMonitor meshwatchd/meshwatchd: spec.endpoints[0].intreval: unknown field"),
            ("interval: 30s", "interval: 30", "ServiceMonitor meshwatchd/meshwatchd: spec.endpoints[0].interval: 30 is not of type 'string'"),
            ("port: http", "port: 9819", "ServiceMonitor meshwatchd/meshwatchd: spec.endpoints[0].port: 9819 is not of type 'string'"),
            ("  labels:", "  lables:", "ServiceMonitor meshwatchd/meshwatchd: metadata: Additional properties are not allowed ('lables' was unexpected)"),
            ("kind: ServiceMonitor", "kind: PodMonitor", "PodMonitor meshwatchd/meshwatchd: (the object): Couldn't find schema for kind PodMonitor"),
            // No name: named by its index in the file.
            ("  name: meshwatchd\n", "", "document 1 (ServiceMonitor with no metadata.name): metadata.name: missing or empty"),
        ]
        for (index, broken) in cases.enumerated() {
            #expect(original.contains(broken.from), "servicemonitor.yaml has no \(broken.from)")
            let file = work + "/servicemonitor-\(index).yaml"
            try original.replacingOccurrences(of: broken.from, with: broken.to).write(toFile: file, atomically: true, encoding: .utf8)
            let run = try await ChildProcess.run(Self.python, [Self.k8s + "/validate.py", "--file", file])
            #expect(run.status == 1, "\(broken.to) accepted: \(run.output)")
            #expect(run.output.contains("validate: FAIL \(file): \(broken.expected)"), "\(broken.to): \(run.output)")
        }
    }

    @Test("a document that is no object, or has no metadata or name, is a FAIL line naming the file and the document's index, never a traceback")
    func malformedDocuments() async throws {
        let work = NSTemporaryDirectory() + "meshwatchd-malformed-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let cases: [(text: String, expected: [String])] = [
            ("just a string\n", ["document 1: (the object): not a Kubernetes object: a string ('just a string'), not a mapping"]),
            ("---\n- a\n- list\n---\n42\n", ["document 1: (the object): not a Kubernetes object: a list", "document 2: (the object): not a Kubernetes object: a number (42)"]),
            ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", ["document 1 (ConfigMap with no metadata.name): metadata: missing"]),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: meshwatchd\n",
             ["document 1 (ConfigMap with no metadata.name): metadata.name: missing or empty"]),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata: oops\n", ["document 1 (ConfigMap with no metadata.name): metadata: a string ('oops'), not a mapping"]),
            ("apiVersion: v1\nkind: [ConfigMap]\nmetadata: {name: a}\n", ["document 1 (no kind): (the object): not a Kubernetes object (apiVersion and kind, both strings)"]),
            // After a valid object: the index counts every document of the file.
            ("apiVersion: v1\nkind: Namespace\nmetadata: {name: meshwatchd}\n---\nkind: Service\n",
             ["document 2 (Service with no metadata.name): (the object): not a Kubernetes object (apiVersion and kind, both strings)"]),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\ndata:\n  config.json: 5\n",
             ["ConfigMap b/a: data.config.json: a number (5), not a string"]),
        ]
        for (index, broken) in cases.enumerated() {
            let file = work + "/malformed-\(index).yaml"
            try broken.text.write(toFile: file, atomically: true, encoding: .utf8)
            let run = try await ChildProcess.run(Self.python, [Self.k8s + "/validate.py", "--file", file])
            #expect(run.status == 1, "\(broken.text) accepted: \(run.output)")
            #expect(!run.output.contains("Traceback") && !run.output.contains("could not check it"), "\(broken.text): \(run.output)")
            for expected in broken.expected {
                #expect(run.output.contains("validate: FAIL \(file): \(expected)"), "\(broken.text): \(run.output)")
            }
        }
        let missing = try await ChildProcess.run(Self.python, [Self.k8s + "/validate.py", "--file", work + "/absent.yaml"])
        #expect(missing.status == 1 && missing.output.contains("validate: FAIL \(work)/absent.yaml: cannot read it"), "\(missing.output)")
    }

    @Test("across objects: the Service's targetPort, by name or number, is a container port; the ServiceMonitor's endpoint a Service port; no pod scraped both ways")
    func crossObjectPorts() async throws {
        let work = NSTemporaryDirectory() + "meshwatchd-ports-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let deployment = try String(contentsOfFile: Self.directory + "/deployment.yaml", encoding: .utf8)
        let service = try String(contentsOfFile: Self.directory + "/service.yaml", encoding: .utf8)
        let monitor = try String(contentsOfFile: Self.k8s + "/components/servicemonitor/servicemonitor.yaml", encoding: .utf8)
        #expect(monitor.contains("port: http"), "no port: http to break")
        #expect(service.contains("      targetPort: http\n") && service.contains("port: 9819"))
        let named = "Service meshwatchd/meshwatchd: spec.ports[0]"
        let cases: [(documents: [String], expected: String?)] = [
            ([deployment, service], nil),
            ([deployment, service.replacingOccurrences(of: "targetPort: http", with: "targetPort: 9819")], nil),
            ([deployment, service.replacingOccurrences(of: "targetPort: http", with: "targetPort: metrics")],
             "\(named).targetPort: 'metrics' names no container port of Deployment meshwatchd/meshwatchd (http (9819))"),
            ([deployment, service.replacingOccurrences(of: "targetPort: http", with: "targetPort: 9820")],
             "\(named).targetPort: 9820 is no containerPort of Deployment meshwatchd/meshwatchd (http (9819))"),
            ([deployment, service.replacingOccurrences(of: "      targetPort: http\n", with: "").replacingOccurrences(of: "port: 9819", with: "port: 9000")],
             "\(named).port (no targetPort: the same): 9000 is no containerPort of Deployment meshwatchd/meshwatchd"),
            ([service, monitor.replacingOccurrences(of: "port: http", with: "port: metrics")],
             "ServiceMonitor meshwatchd/meshwatchd: spec.endpoints[0].port: 'metrics' is no named port of Service meshwatchd/meshwatchd (http)"),
            // The base's Deployment, annotations and all, beside a ServiceMonitor: a Prometheus doing both scrapes twice.
            ([deployment, service, monitor],
             "Deployment meshwatchd/meshwatchd: spec.template.metadata.annotations.prometheus.io/scrape: \"true\", and ServiceMonitor meshwatchd/meshwatchd scrapes these pods too"),
        ]
        for (index, composed) in cases.enumerated() {
            let file = work + "/ports-\(index).yaml"
            try composed.documents.joined(separator: "\n---\n").write(toFile: file, atomically: true, encoding: .utf8)
            let run = try await ChildProcess.run(Self.python, [Self.k8s + "/validate.py", "--file", file])
            #expect(!run.output.contains("Traceback"), "\(run.output)")
            if let expected = composed.expected {
                #expect(run.status == 1, "case \(index) accepted: \(run.output)")
                #expect(run.output.contains("validate: FAIL \(file): \(expected)"), "case \(index): \(run.output)")
            } else {
                #expect(run.status == 0, "case \(index): \(run.output)")
            }
        }
    }

    @Test("each rendering holds what its name says: a broken component, overlay or generator fails the overlays it is in, by name",
          arguments: [
              // The component forgets one annotation: the ServiceMonitor and the annotation would scrape twice.
              ("components/servicemonitor/kustomization.yaml", "      - op: remove\n        path: /spec/template/metadata/annotations/prometheus.io~1scrape\n", "",
               ["servicemonitor", "example+servicemonitor+analyze"],
               "Deployment meshwatchd/meshwatchd: spec.template.metadata.annotations: prometheus.io/scrape left beside the ServiceMonitor"),
              ("overlays/analyze/kustomization.yaml", "components:\n  - ../../components/analyze\n", "", ["analyze"],
               "ClusterRole meshwatchd-analyze: not in this rendering"),
              ("overlays/example/kustomization.yaml", "    options:\n", "    options:\n      disableNameSuffixHash: true\n", ["example", "example+servicemonitor+analyze"],
               "Secret meshwatchd/meshwatchd-secrets: metadata.name: not meshwatchd-secrets-<hash>"),
              ("base/deployment.yaml", "        prometheus.io/scrape: \"true\"\n", "", ["base"],
               "Deployment meshwatchd/meshwatchd: spec.template.metadata.annotations.prometheus.io/scrape: missing"),
              ("base/service.yaml", "targetPort: http", "targetPort: metrics", ["base", "example+servicemonitor+analyze"],
               "Service meshwatchd/meshwatchd: spec.ports[0].targetPort: 'metrics' names no container port"),
          ])
    func brokenRendering(_ file: String, _ from: String, _ to: String, _ labels: [String], _ expected: String) async throws {
        // A copy of deploy/k8s with its own validate.py, which renders the copy.
        let work = NSTemporaryDirectory() + "meshwatchd-k8s-broken-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let copy = work + "/k8s"
        try FileManager.default.copyItem(atPath: Self.k8s, toPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "/overlays/example/secrets")
        let original = try String(contentsOfFile: copy + "/" + file, encoding: .utf8)
        #expect(original.contains(from), "\(file) has no \(from)")
        try original.replacingOccurrences(of: from, with: to).write(toFile: copy + "/" + file, atomically: true, encoding: .utf8)
        let run = try await ChildProcess.run(Self.python, [copy + "/validate.py"] + labels)
        #expect(run.status == 1, "\(file) broken, accepted: \(run.output)")
        #expect(!run.output.contains("Traceback"), "\(run.output)")
        for label in labels {
            #expect(run.output.contains("validate: FAIL \(label): \(expected)"), "\(label): \(run.output)")
        }
    }

    @Test("no overlay installs a placeholder: no replace-me; the base ships no Secret; the example, alone or with both components, generates it and the Deployment mounts it by its hashed name")
    func noPlaceholders() async throws {
        let found = try FileManager.default.contentsOfDirectory(atPath: Self.k8s + "/overlays")
        #expect(Set(found) == Set(Self.overlays), "every overlay is rendered here and in overlayValidates")
        let components = try FileManager.default.contentsOfDirectory(atPath: Self.k8s + "/components")
        #expect(Set(components) == Set(Self.components), "every component is rendered here, in its overlay and with the example")
        #expect(!FileManager.default.fileExists(atPath: Self.directory + "/secret.yaml"))
        let ignored = try String(contentsOfFile: Self.k8s + "/overlays/example/.gitignore", encoding: .utf8)
        #expect(ignored.split(separator: "\n").contains("/secrets/"), "the example's generated secrets are never committed")
        // A copy: the example's secrets are throwaway ones written there, the checkout's never touched.
        let work = NSTemporaryDirectory() + "meshwatchd-k8s-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let copy = work + "/k8s"
        try FileManager.default.copyItem(atPath: Self.k8s, toPath: copy)
        try? FileManager.default.removeItem(atPath: copy + "/overlays/example/secrets")
        let url = "https://incidents.example.com/hooks/meshwatchd"
        let made = try await ChildProcess.run("/bin/bash", [copy + "/overlays/example/make-secrets.sh", url])
        #expect(made.status == 0, "\(made.output)")
        // The combination as the example's kustomization.yaml has it, commented out: uncommented, in a copy of the example.
        let combined = "example+servicemonitor+analyze"
        try FileManager.default.copyItem(atPath: copy + "/overlays/example", toPath: copy + "/overlays/" + combined)
        let exampleKustomization = try String(contentsOfFile: copy + "/overlays/example/kustomization.yaml", encoding: .utf8)
        let commented = "# components:\n#   - ../../components/servicemonitor\n#   - ../../components/analyze\n"
        #expect(exampleKustomization.contains(commented), "the example lists both components, commented out")
        let uncommented = commented.replacingOccurrences(of: "# components:", with: "components:").replacingOccurrences(of: "#   - ", with: "  - ")
        try exampleKustomization.replacingOccurrences(of: commented, with: uncommented)
            .write(toFile: copy + "/overlays/\(combined)/kustomization.yaml", atomically: true, encoding: .utf8)
        for overlay in ["base"] + Self.overlays + [combined] {
            let parts = overlay.split(separator: "+").map(String.init)
            let directory = overlay == "base" ? copy : copy + "/overlays/" + overlay
            let output = work + "/\(overlay).yaml"
            let rendered = try await ChildProcess.run("/usr/bin/env", ["kubectl", "kustomize", directory, "-o", output])
            #expect(rendered.status == 0, "\(overlay): \(rendered.output)")
            let text = try String(contentsOfFile: output, encoding: .utf8)
            #expect(!text.lowercased().contains("replace-me"), "\(overlay) installs a replace-me placeholder")
            let objects = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
            #expect(objects.count >= 18, "\(overlay): \(objects.count) objects")
            let secrets = objects.filter { $0["kind"] as? String == "Secret" }
            let deployment = try #require(objects.first { $0["kind"] as? String == "Deployment" }, "\(overlay)")
            let pod = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any] ?? [:]
            let mounted = (pod["volumes"] as? [[String: Any]] ?? []).compactMap { ($0["secret"] as? [String: Any])?["secretName"] as? String }
            // The components: the ServiceMonitor without the annotations that would scrape twice; the analyze Role and its binding.
            let annotations = (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"] as? [String: Any])?["annotations"] as? [String: Any] ?? [:]
            let monitors = objects.filter { $0["kind"] as? String == "ServiceMonitor" }
            #expect(monitors.count == (parts.contains("servicemonitor") ? 1 : 0), "\(overlay): \(monitors.count) ServiceMonitors")
            #expect(annotations.keys.contains { $0.hasPrefix("prometheus.io/") } == !parts.contains("servicemonitor"), "\(overlay): \(annotations.keys.sorted())")
            let analyzeRoles = objects.filter { object in
                let kind = object["kind"] as? String ?? ""
                return (kind == "ClusterRole" || kind == "ClusterRoleBinding") && (object["metadata"] as? [String: Any])?["name"] as? String == "meshwatchd-analyze"
            }
            #expect(analyzeRoles.count == (parts.contains("analyze") ? 2 : 0), "\(overlay): \(analyzeRoles.count) meshwatchd-analyze roles and bindings")
            guard parts.contains("example") else {
                #expect(secrets.isEmpty, "\(overlay) ships a Secret")
                #expect(mounted == ["meshwatchd-secrets"], "\(overlay): \(mounted)")
                continue
            }
            let secret = try #require(secrets.count == 1 ? secrets.first : nil, "\(overlay): the example generates exactly one Secret")
            let name = try #require((secret["metadata"] as? [String: Any])?["name"] as? String)
            #expect(name.hasPrefix("meshwatchd-secrets-") && name.count > "meshwatchd-secrets-".count, "\(name): no hash suffix")
            #expect(mounted == [name], "\(overlay): the Deployment mounts \(mounted), not the generated \(name)")
            var values: [String: String] = [:]
            for (key, value) in secret["data"] as? [String: Any] ?? [:] {
                values[key] = (value as? String).flatMap { Data(base64Encoded: $0.filter { !$0.isWhitespace }) }.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            }
            #expect(Set(values.keys) == ["ops-token", "webhook-secret", "webhook-url"])
            #expect(values["webhook-url"] == url)
            // Random, and long enough for web.tokens (16 characters at least).
            #expect((values["ops-token"]?.count ?? 0) >= 32 && (values["webhook-secret"]?.count ?? 0) >= 32)
            #expect(values["ops-token"] != values["webhook-secret"])
        }
    }

    @Test("Prometheus finds it: the pod template's prometheus.io annotations and the ServiceMonitor name the status port and /metrics; the ServiceMonitor's component removes every one of those annotations")
    func scrapeTargets() throws {
        let deployment = try #require(try documents("deployment.yaml").first)
        let template = try #require((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])
        let annotations = (template["metadata"] as? [String: Any])?["annotations"] as? [String: Any] ?? [:]
        let container = try #require(((template["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first)
        let port = try #require((container["ports"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "http" }?["containerPort"] as? Int)
        #expect(annotations["prometheus.io/scrape"] as? String == "true")
        #expect(annotations["prometheus.io/port"] as? String == "\(port)")
        #expect(annotations["prometheus.io/path"] as? String == "/metrics")

        let service = try #require(try documents("service.yaml").first)
        let serviceMetadata = service["metadata"] as? [String: Any] ?? [:]
        let servicePort = try #require(((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]])?.first { $0["targetPort"] as? String == "http" })
        let monitor = try #require(try Yams.load(yaml: String(contentsOfFile: Self.k8s + "/components/servicemonitor/servicemonitor.yaml", encoding: .utf8)) as? [String: Any])
        #expect(monitor["apiVersion"] as? String == "monitoring.coreos.com/v1" && monitor["kind"] as? String == "ServiceMonitor")
        #expect((monitor["metadata"] as? [String: Any])?["namespace"] as? String == serviceMetadata["namespace"] as? String)
        let spec = try #require(monitor["spec"] as? [String: Any])
        let selector = (spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String] ?? [:]
        let labels = serviceMetadata["labels"] as? [String: String] ?? [:]
        #expect(!selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }, "the ServiceMonitor selects \(selector), the Service has \(labels)")
        #expect((spec["namespaceSelector"] as? [String: Any])?["matchNames"] as? [String] == [serviceMetadata["namespace"] as? String ?? ""])
        let endpoint = try #require((spec["endpoints"] as? [[String: Any]])?.first)
        #expect(endpoint["port"] as? String == servicePort["name"] as? String)
        #expect(endpoint["path"] as? String == "/metrics")
        #expect(endpoint["interval"] as? String == "30s")
        let overlay = try #require(try Yams.load(yaml: String(contentsOfFile: Self.k8s + "/overlays/servicemonitor/kustomization.yaml", encoding: .utf8)) as? [String: Any])
        #expect(overlay["resources"] as? [String] == ["../../base"])
        #expect(overlay["components"] as? [String] == ["../../components/servicemonitor"])
        let component = try #require(try Yams.load(yaml: String(contentsOfFile: Self.k8s + "/components/servicemonitor/kustomization.yaml", encoding: .utf8)) as? [String: Any])
        #expect(component["apiVersion"] as? String == "kustomize.config.k8s.io/v1alpha1" && component["kind"] as? String == "Component")
        #expect(component["resources"] as? [String] == ["servicemonitor.yaml"])
        // Its JSON6902 patch removes exactly the pod template's prometheus.io/* annotations ("/" escaped as "~1").
        let patches = component["patches"] as? [[String: Any]] ?? []
        let patch = try #require(patches.first { ($0["target"] as? [String: Any])?["kind"] as? String == "Deployment" })
        #expect((patch["target"] as? [String: Any])?["name"] as? String == (deployment["metadata"] as? [String: Any])?["name"] as? String)
        let operations = try #require(try Yams.load(yaml: patch["patch"] as? String ?? "") as? [[String: Any]])
        #expect(operations.allSatisfy { $0["op"] as? String == "remove" }, "\(operations)")
        let prefix = "/spec/template/metadata/annotations/"
        var removed: Set<String> = []
        for operation in operations {
            guard let path = operation["path"] as? String, path.hasPrefix(prefix) else { continue }
            removed.insert(String(path.dropFirst(prefix.count)).replacingOccurrences(of: "~1", with: "/"))
        }
        #expect(removed == Set(annotations.keys.filter { $0.hasPrefix("prometheus.io/") }), "removes \(removed.sorted()), the base has \(annotations.keys.sorted())")
    }
}

/// The image: built from deploy/k8s/Containerfile under the tag the base names, with the packages
/// the build needs and the libraries the binary links.
@Suite("deploy/k8s/Containerfile and the image the base names")
struct ContainerImageTests {
    static let containerfile = PackTests.root + "/deploy/k8s/Containerfile"

    /// The `apt-get install` packages of the stage starting at `FROM … AS name` (or the last stage).
    static func stagePackages(_ text: String, stage: String?) -> Set<String> {
        let stages = text.components(separatedBy: "\nFROM ")
        let body: String
        if let stage {
            body = stages.first { $0.split(separator: "\n").first?.hasSuffix("AS \(stage)") == true } ?? ""
        } else {
            body = stages.last ?? ""
        }
        let joined = body.replacingOccurrences(of: "\\\n", with: " ")
        var packages = Set<String>()
        for line in joined.split(separator: "\n") where line.contains("apt-get install") {
            let words = line.split(separator: " ").map(String.init)
            guard let start = words.firstIndex(of: "--no-install-recommends") else { continue }
            for word in words[(start + 1)...] {
                if word == "&&" { break }
                packages.insert(word)
            }
        }
        return packages
    }

    @Test("the base names localhost/meshwatchd:<version>, the tag the Containerfile's and the README's build command give")
    func imageReference() throws {
        let tag = "localhost/meshwatchd:\(BuildInfo.version)"
        let deployment = try String(contentsOfFile: DeployManifestTests.directory + "/deployment.yaml", encoding: .utf8)
        let images = deployment.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("image:") }
        #expect(images.map { $0.trimmingCharacters(in: .whitespaces) } == ["image: \(tag)"])
        let containerfile = try String(contentsOfFile: Self.containerfile, encoding: .utf8)
        #expect(containerfile.contains("podman build -f deploy/k8s/Containerfile -t \(tag) ."))
        let readme = try String(contentsOfFile: PackTests.root + "/README.md", encoding: .utf8)
        #expect(readme.contains("podman build -f deploy/k8s/Containerfile -t \(tag) ."))
        #expect(!readme.contains("ghcr.io/meshwatchd") && !deployment.contains("ghcr.io"), "an image no registry publishes")
    }

    @Test("the image and the README's install build with the Makefile's RELEASE_FLAGS, the build `make bench` measures")
    func releaseFlags() throws {
        let makefile = try String(contentsOfFile: PackTests.root + "/Makefile", encoding: .utf8)
        let line = try #require(makefile.split(separator: "\n").first { $0.hasPrefix("RELEASE_FLAGS := ") })
        let flags = line.dropFirst("RELEASE_FLAGS := ".count)
        #expect(flags.contains("--static-swift-stdlib") && flags.contains("-function-sections"), "\(flags)")
        #expect(makefile.contains("build $(RELEASE_FLAGS) --product meshwatchd"))
        let containerfile = try String(contentsOfFile: Self.containerfile, encoding: .utf8)
        #expect(containerfile.contains("RUN swift build \(flags) --product meshwatchd"))
        let readme = try String(contentsOfFile: PackTests.root + "/README.md", encoding: .utf8)
        #expect(readme.contains("\nswift build \(flags) --product meshwatchd\n"))
        // The order the release link follows is there and names functions (mangled Swift, C).
        let order = try String(contentsOfFile: PackTests.root + "/Sources/MeshWatchd/hot-functions.order", encoding: .utf8)
        let names = order.split(separator: "\n")
        #expect(names.count > 1000 && names.contains { $0.hasPrefix("$s9Incidents") } && names.contains("swift_retain"))
    }

    @Test("the order puts what every cycle runs before what only a firing runs, however many instructions each costs")
    func cycleCodeFirst() throws {
        let order = try String(contentsOfFile: PackTests.root + "/Sources/MeshWatchd/hot-functions.order", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        // Saving a group's state runs in every cycle; a runbook's PromQL step only when an alert
        // fires. Ordered by instructions alone (before 2026-12-07), the step came first (line 344
        // against 1,694), and the cycles kept ~60 windows of 64 KB resident over the list's first 5 MB.
        let save = try #require(order.firstIndex { $0.contains("10StateStoreC4save5group8snapshot") && $0.hasSuffix("TransitionVGtKF") })
        let runbook = try #require(order.firstIndex { $0.contains("13RunbookRunnerV6promql") })
        #expect(save < runbook, "StateStore.save at line \(save + 1), RunbookRunner.promql at \(runbook + 1)")
    }

    @Test("the executable binds every symbol at load (full RELRO) and exports none of its own: no later lookup searches its symbol table")
    func bindNowNoExports() async throws {
        let dynamic = try await ChildProcess.run("/usr/bin/readelf", ["-d", "-W", CommandLineTests.binary])
        #expect(dynamic.status == 0)
        let flags = dynamic.output.split(separator: "\n").filter { $0.contains("(FLAGS") }
        #expect(flags.contains { $0.contains("BIND_NOW") } && flags.contains { $0.contains("NOW") && $0.contains("PIE") }, "\(flags)")
        let relro = try await ChildProcess.run("/usr/bin/readelf", ["-l", "-W", CommandLineTests.binary])
        #expect(relro.output.contains("GNU_RELRO"))
        // The toolchain's static-stdlib link asks for --export-dynamic: 48,000 symbols before.
        let exported = try await ChildProcess.run("/usr/bin/nm", ["-D", "--defined-only", CommandLineTests.binary])
        let symbols = exported.output.split(separator: "\n").filter { !$0.isEmpty }
        #expect(symbols.count < 20, "\(symbols.count) symbols exported: \(symbols.prefix(5))")
        // What the daemon calls through those libraries still runs.
        let version = try await ChildProcess.run(CommandLineTests.binary, ["--version"])
        #expect(version.status == 0)
    }

    @Test("the order lists the executable's read-only conformance descriptors, together after the functions")
    func conformanceDescriptorsOrdered() async throws {
        let order = try String(contentsOfFile: PackTests.root + "/Sources/MeshWatchd/hot-functions.order", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let listed = Set(order)
        // nm writes ~200,000 lines for a debug build: the descriptors' only (ChildProcess keeps 1 MB).
        let table = try await ChildProcess.run("/bin/sh", ["-c", "/usr/bin/nm --defined-only \"$0\" | grep 'Mc$'", CommandLineTests.binary])
        #expect(table.status == 0)
        let descriptors = table.output.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[1] == "r" || fields[1] == "R", fields[2].hasPrefix("$s"), fields[2].hasSuffix("Mc") else { return nil }
            return String(fields[2])
        }
        #expect(descriptors.count > 1000, "\(descriptors.count)")
        // This build's descriptors (a debug one here) are the release's, less what a change since
        // the list was made added. To list them again: `python3 scripts/hot-functions-conformances.py
        // .build/release/meshwatchd Sources/MeshWatchd/hot-functions.order` after a release build
        // (scripts/hot-functions.sh runs it, and with PROFILE=0 only its fault rounds besides).
        let missing = descriptors.filter { !listed.contains($0) }
        #expect(Double(missing.count) <= Double(descriptors.count) * 0.05, "\(missing.count) of \(descriptors.count) not in the order, e.g. \(missing.prefix(3))")
        // One run, at the end: the constants the cycles read (listed before them) come first.
        let first = try #require(order.firstIndex { $0.hasPrefix("$s") && $0.hasSuffix("Mc") })
        #expect(order[first...].allSatisfy { $0.hasPrefix("$s") && $0.hasSuffix("Mc") })
    }

    @Test("the build stage has every -dev package of install-deps.sh; the runtime stage the package of every library the binary links")
    func packages() async throws {
        let text = try String(contentsOfFile: Self.containerfile, encoding: .utf8)
        let build = Self.stagePackages(text, stage: "build")
        let runtime = Self.stagePackages(text, stage: nil)
        #expect(!build.isEmpty && !runtime.isEmpty)
        let deps = try String(contentsOfFile: PackTests.root + "/scripts/install-deps.sh", encoding: .utf8)
        let developmentPackages = deps.split(separator: "\n").compactMap { line -> String? in
            let word = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            return word.hasSuffix("-dev") || word == "pkg-config" ? word : nil
        }
        #expect(developmentPackages.count >= 6)
        for package in developmentPackages { #expect(build.contains(package), "the build stage lacks \(package)") }

        let elf = try await ChildProcess.run("/usr/bin/readelf", ["-d", CommandLineTests.binary])
        let needed = elf.output.matches(of: /\(NEEDED\)\s+Shared library: \[([^\]]+)\]/).map { String($0.1) }
        #expect(needed.contains("libcurl.so.4") && needed.contains("libsnappy.so.1"), "\(needed)")
        // The Swift runtime is linked statically into the image's binary (--static-swift-stdlib); libc is the base image's.
        let swiftRuntime = /^(libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime)/
        let baseImage: Set<String> = ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libgcc_s.so.1"]
        for library in needed where library.firstMatch(of: swiftRuntime) == nil && !baseImage.contains(library) {
            let owner = try await ChildProcess.run("/usr/bin/dpkg", ["-S", "*/\(library)"])
            let packages = owner.output.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }
            #expect(!packages.isEmpty, "no package owns \(library): \(owner.output)")
            #expect(packages.contains { runtime.contains($0) }, "\(library) (\(packages)) is not installed by the runtime stage \(runtime.sorted())")
        }
    }
}
