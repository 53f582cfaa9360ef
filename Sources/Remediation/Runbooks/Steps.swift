import Foundation
import MeshHTTP
import MetricModel
import PromClient
import PromQL
import X509

extension RunbookRunner {
    func execute(_ step: RunbookStep, alert: AlertContext, target: Evidence.Target?) async throws -> StepOutput {
        // Checked at load (1 to 10,000); clamped here too, so no value can trap or overflow.
        let limit = min(max(step.limit ?? (step.kind == .logs ? 100 : 10), 1), RunbookStep.maxLimit)
        let namespace = try Self.checkedNamespace(step.namespace.map { render($0, alert) } ?? target?.namespace
            ?? alert.labels["destination_workload_namespace"] ?? alert.labels["namespace"])
        do {
            switch step.kind {
            case .promql: return try await promql(try StepTemplate.promql(step.query ?? "", labels: alert.labels), at: alert.time, limit: limit)
            case .pods: return try await pods(step, namespace: namespace, target: target, limit: limit)
            case .events: return try await events(namespace: namespace, limit: limit)
            case .rolloutHistory: return try await rolloutHistory(step, target: target, alert: alert, limit: limit)
            case .logs: return try await logs(step, namespace: namespace, target: target, limit: limit)
            case .hpa: return try await hpa(namespace: namespace, target: target)
            case .meshResources: return try await meshResources(step, namespace: namespace, limit: limit)
            case .certificates: return try await certificates(step, namespace: namespace, at: alert.time, limit: limit)
            case .httpCheck: return try await httpCheck(try StepTemplate.url(step.url ?? "", labels: alert.labels))
            case .exec: return try await exec(try StepTemplate.argv(step.command ?? [], labels: alert.labels), limit: limit)
            case .analyze:
                guard let analyze else { throw StepSkipped(reason: "configuration checks are not available here") }
                let answer = try await analyze(try kube(), AnalysisRequest(namespace: namespace, checks: step.checks ?? []))
                var output = StepOutput()
                output.truncated = answer.lines.count > limit + 1
                output.lines = Array(answer.lines.prefix(limit + 1))
                output.data = answer.data
                return output
            }
        } catch let refused as StepTemplate.Refused {
            throw StepSkipped(reason: "refused: \(refused)")
        } catch let invalid as InvalidKubernetesName {
            throw StepSkipped(reason: "refused: \(invalid)")
        }
    }

    /// A namespace from a label or a template is outside input: a DNS-1123 label or nothing.
    static func checkedNamespace(_ value: String?) throws -> String? {
        guard let value else { return nil }
        if let problem = KubernetesName.labelProblem(value) {
            throw StepSkipped(reason: "refused: \(InvalidKubernetesName(what: "namespace", value: value, problem: problem))")
        }
        return value
    }

    private func kube() throws -> KubernetesClient {
        guard let kubernetes else { throw StepSkipped(reason: "no Kubernetes API configured") }
        return kubernetes
    }

    private func requireTarget(_ target: Evidence.Target?) throws -> Evidence.Target {
        guard let target else { throw StepSkipped(reason: "no target workload") }
        return target
    }

    // MARK: PromQL

    private func promql(_ query: String, at time: Date, limit: Int) async throws -> StepOutput {
        guard let prometheus else { throw StepSkipped(reason: "no Prometheus configured") }
        let response = try await prometheus.query(query, at: time, timeout: .seconds(8))
        var rows: [(labels: Labels, value: Double)] = []
        switch response.result {
        case .vector(let samples): rows = samples.map { ($0.labels, $0.value) }
        case .scalar(let point): rows = [(.empty, point.value)]
        default: break
        }
        rows.sort { ($0.value.isNaN ? -.infinity : $0.value) > ($1.value.isNaN ? -.infinity : $1.value) }
        var output = StepOutput()
        output.truncated = rows.count > limit
        let shown = rows.prefix(limit)
        output.lines = shown.map { row in
            let labels = row.labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ", ")
            return "\(Self.number(row.value)) {\(labels)}"
        }
        if rows.isEmpty { output.lines = ["no series"] }
        output.data = .array(shown.map { row in
            .object(["labels": .object(Dictionary(uniqueKeysWithValues: row.labels.map { ($0.name, .string($0.value)) })),
                     "value": .string(Self.number(row.value))])
        })
        return output
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        // C's printf through the shim: Foundation's `String(format:)` casts each argument to
        // find how to pass it, and a cast of a type not seen before reads every conformance
        // record of the program (about 1 MB, mapped back after start-up's release).
        return cFormat("%.4g", value)
    }

    // MARK: Pods

    private func pods(_ step: RunbookStep, namespace: String?, target: Evidence.Target?, limit: Int) async throws -> StepOutput {
        let client = try kube()
        guard let namespace else { throw StepSkipped(reason: "no namespace: no target and no namespace label") }
        var selector = step.selector
        if selector == nil, step.filter != "without_sidecar", let target, target.namespace == namespace {
            let deployment = try await client.get(Deployment.self, try KubernetesPath.namespaced(group: "apps", namespace: namespace, resource: "deployments", name: target.deployment))
            selector = deployment.spec.selector.query
        }
        var pods = try await client.list(Pod.self, try KubernetesPath.namespaced(namespace: namespace, resource: "pods"), labelSelector: selector)
        // The mesh's sidecar: the step's container (linkerd-proxy) or istio-proxy; without a filter,
        // a pod counts as meshed when it runs either mesh's proxy.
        let sidecar = step.container ?? "istio-proxy"
        if let problem = KubernetesName.labelProblem(sidecar) {
            throw StepSkipped(reason: "refused: \(InvalidKubernetesName(what: "container", value: sidecar, problem: problem))")
        }
        switch step.filter {
        case "not_ready": pods = pods.filter { !$0.isReady }
        case "without_sidecar": pods = pods.filter { !$0.hasSidecar(named: sidecar) }
        default: break
        }
        let ready = pods.filter(\.isReady).count
        var output = StepOutput()
        let scope = selector.map { "\(namespace) (\($0))" } ?? namespace
        if step.filter == "without_sidecar" {
            let article = "aeiou".contains(sidecar.first ?? "x") ? "an" : "a"
            output.lines = [pods.isEmpty ? "every pod in \(namespace) has \(article) \(sidecar) sidecar"
                                         : "\(pods.count) pods in \(namespace) without \(article) \(sidecar) sidecar"]
        } else {
            let troubled = pods.filter { !$0.isReady || $0.restarts > 0 }
            output.lines = ["\(pods.count) pods in \(scope), \(ready) ready" + (troubled.isEmpty ? "" : ", \(troubled.count) with problems")]
        }
        // Troubled pods first: what the engineer would look at.
        let sorted = pods.sorted { ($0.isReady ? 1 : 0, -$0.restarts, $0.metadata.name) < ($1.isReady ? 1 : 0, -$1.restarts, $1.metadata.name) }
        output.truncated = sorted.count > limit
        for pod in sorted.prefix(limit) {
            var line = "\(pod.metadata.name): \(pod.status?.phase ?? "Unknown"), \(pod.isReady ? "ready" : "not ready"), \(pod.restarts) restarts"
            if let problem = pod.problem { line += ", \(problem)" }
            if !pod.hasSidecar(named: sidecar) && (step.container != nil || !pod.hasSidecar(named: "linkerd-proxy")) { line += ", no sidecar" }
            output.lines.append(line)
        }
        output.data = .array(sorted.prefix(limit).map { pod in
            .object(["name": .string(pod.metadata.name), "phase": .string(pod.status?.phase ?? "Unknown"), "ready": .bool(pod.isReady),
                     "restarts": .number(Double(pod.restarts)), "problem": pod.problem.map(JSONValue.string) ?? .null,
                     "sidecar": .bool(pod.hasSidecar(named: sidecar)), "node": pod.spec?.nodeName.map(JSONValue.string) ?? .null])
        })
        return output
    }

    // MARK: Events

    private func events(namespace: String?, limit: Int) async throws -> StepOutput {
        let client = try kube()
        guard let namespace else { throw StepSkipped(reason: "no namespace") }
        let events = try await client.list(Event.self, try KubernetesPath.namespaced(namespace: namespace, resource: "events"))
            .sorted { ($0.time ?? .distantPast) > ($1.time ?? .distantPast) }
        var output = StepOutput()
        output.truncated = events.count > limit
        output.lines = events.prefix(limit).map { event in
            let time = event.time.map(Self.clock) ?? "?"
            let object = "\(event.involvedObject?.kind ?? "")/\(event.involvedObject?.name ?? "")"
            return "\(time) \(event.type ?? "Normal") \(event.reason ?? "") \(object): \(event.message ?? "")" + ((event.count ?? 1) > 1 ? " (×\(event.count!))" : "")
        }
        if events.isEmpty { output.lines = ["no events in \(namespace)"] }
        output.data = .array(events.prefix(limit).map { event in
            .object(["type": .string(event.type ?? ""), "reason": .string(event.reason ?? ""), "message": .string(event.message ?? ""),
                     "object": .string("\(event.involvedObject?.kind ?? "")/\(event.involvedObject?.name ?? "")"),
                     "time": event.time.map { .string(Self.timestamp($0)) } ?? .null, "count": .number(Double(event.count ?? 1))])
        })
        return output
    }

    // MARK: Rollout history

    private func rolloutHistory(_ step: RunbookStep, target: Evidence.Target?, alert: AlertContext, limit: Int) async throws -> StepOutput {
        let client = try kube()
        let target = try requireTarget(target)
        let deployment = try await client.get(Deployment.self, try KubernetesPath.namespaced(group: "apps", namespace: target.namespace, resource: "deployments", name: target.deployment))
        let sets = try await client.list(ReplicaSet.self, try KubernetesPath.namespaced(group: "apps", namespace: target.namespace, resource: "replicasets"),
                                         labelSelector: deployment.spec.selector.query)
            .filter { $0.isControlled(by: deployment.metadata.uid) && $0.revision != nil }
            .sorted { $0.revision! > $1.revision! }
        let window = step.window.flatMap(PrometheusDuration.parse) ?? .seconds(1800)
        var output = StepOutput()
        guard let newest = sets.first else {
            output.lines = ["no revisions recorded for \(target.deployment)"]
            return output
        }
        let images = newest.spec.template?.spec?.containers.compactMap(\.image) ?? []
        if let created = newest.metadata.created {
            let minutes = alert.activeAt.timeIntervalSince(created) / 60
            if sets.count > 1, minutes >= 0, minutes * 60 <= Double(window.components.seconds) {
                output.recentRollout = .init(revision: newest.revision!, minutesBeforePending: (minutes * 10).rounded() / 10, images: images)
                output.lines.append("a new revision (\(newest.revision!), \(images.joined(separator: ", "))) rolled out \(Self.minutes(minutes)) before the alert went pending")
            } else {
                output.lines.append("current revision \(newest.revision!) (\(images.joined(separator: ", "))) is \(Self.minutes(abs(minutes))) \(minutes >= 0 ? "older than" : "newer than") the alert; no recent rollout")
            }
        }
        output.truncated = sets.count > limit
        for set in sets.prefix(limit) {
            let created = set.metadata.created.map(Self.timestamp) ?? "?"
            let cause = set.metadata.annotation("kubernetes.io/change-cause").map { ", \($0)" } ?? ""
            output.lines.append("revision \(set.revision!): \((set.spec.template?.spec?.containers.compactMap(\.image) ?? []).joined(separator: ", ")), created \(created), \(set.spec.replicas ?? 0) replicas\(cause)")
        }
        output.data = .array(sets.prefix(limit).map { set in
            .object(["revision": .number(Double(set.revision!)), "replicaSet": .string(set.metadata.name),
                     "images": .array((set.spec.template?.spec?.containers.compactMap(\.image) ?? []).map(JSONValue.string)),
                     "created": set.metadata.created.map { .string(Self.timestamp($0)) } ?? .null,
                     "replicas": .number(Double(set.spec.replicas ?? 0))])
        })
        return output
    }

    // MARK: Logs

    private func logs(_ step: RunbookStep, namespace: String?, target: Evidence.Target?, limit: Int) async throws -> StepOutput {
        let client = try kube()
        let podNamespace: String
        let selector: String
        if let given = step.selector {
            // Pods named by the step (a control plane's), not the alert's workload.
            guard let namespace else { throw StepSkipped(reason: "no namespace for selector \(given)") }
            (podNamespace, selector) = (namespace, given)
        } else {
            let target = try requireTarget(target)
            let deployment = try await client.get(Deployment.self, try KubernetesPath.namespaced(group: "apps", namespace: target.namespace, resource: "deployments", name: target.deployment))
            (podNamespace, selector) = (target.namespace, deployment.spec.selector.query)
        }
        let pods = try await client.list(Pod.self, try KubernetesPath.namespaced(namespace: podNamespace, resource: "pods"), labelSelector: selector)
            .sorted { ($0.isReady ? 1 : 0, -$0.restarts) < ($1.isReady ? 1 : 0, -$1.restarts) }
        guard let pod = pods.first else { throw StepSkipped(reason: "no pods") }
        let container = step.container ?? pod.spec?.containers.first { !Pod.sidecarNames.contains($0.name) }?.name
        let filter = try step.filter.map { try Regex($0) }
        if let container = step.container, let problem = KubernetesName.labelProblem(container) {
            throw StepSkipped(reason: "refused: \(InvalidKubernetesName(what: "container", value: container, problem: problem))")
        }
        let tail = filter == nil ? limit : max(limit * 10, 1000)
        var lines = try await client.logs(namespace: podNamespace, pod: pod.metadata.name, container: container, tailLines: tail)
            .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        if let filter { lines = lines.filter { $0.contains(filter) } }
        var output = StepOutput()
        output.truncated = lines.count > limit
        let kept = lines.suffix(limit).map { String($0.prefix(500)) }
        output.lines = ["\(kept.count) lines from \(pod.metadata.name)/\(container ?? "")" + (step.filter.map { " matching \($0)" } ?? "")] + kept
        output.data = .object(["pod": .string(pod.metadata.name), "container": .string(container ?? ""), "lines": .array(kept.map(JSONValue.string))])
        return output
    }

    // MARK: HPA

    private func hpa(namespace: String?, target: Evidence.Target?) async throws -> StepOutput {
        let client = try kube()
        let target = try requireTarget(target)
        let deployment = try await client.get(Deployment.self, try KubernetesPath.namespaced(group: "apps", namespace: target.namespace, resource: "deployments", name: target.deployment))
        let autoscalers = try await client.list(HorizontalPodAutoscaler.self, try KubernetesPath.namespaced(group: "autoscaling", version: "v2", namespace: target.namespace, resource: "horizontalpodautoscalers"))
        var output = StepOutput()
        let replicas = "replicas \(deployment.spec.replicas ?? 1) desired, \(deployment.status?.readyReplicas ?? 0) ready"
        if let hpa = autoscalers.first(where: { $0.spec.scaleTargetRef.kind == "Deployment" && $0.spec.scaleTargetRef.name == target.deployment }) {
            output.lines = ["HPA \(hpa.metadata.name) scales \(target.deployment): min \(hpa.spec.minReplicas ?? 1), max \(hpa.spec.maxReplicas), "
                            + "current \(hpa.status?.currentReplicas ?? 0), desired \(hpa.status?.desiredReplicas ?? 0); \(replicas)"]
            output.data = .object(["hpa": .string(hpa.metadata.name), "min": .number(Double(hpa.spec.minReplicas ?? 1)),
                                   "max": .number(Double(hpa.spec.maxReplicas)), "replicas": .number(Double(deployment.spec.replicas ?? 1))])
        } else {
            output.lines = ["no HPA scales \(target.deployment); \(replicas)"]
            output.data = .object(["hpa": .null, "replicas": .number(Double(deployment.spec.replicas ?? 1))])
        }
        return output
    }

    // MARK: Mesh resources

    private func meshResources(_ step: RunbookStep, namespace: String?, limit: Int) async throws -> StepOutput {
        let client = try kube()
        // Without a namespace (an alert about the whole mesh), every namespace's.
        let scope = namespace.map { "/namespaces/\($0)" } ?? ""
        let paths = [
            "DestinationRule": "/apis/networking.istio.io/v1beta1\(scope)/destinationrules",
            "VirtualService": "/apis/networking.istio.io/v1beta1\(scope)/virtualservices",
            "PeerAuthentication": "/apis/security.istio.io/v1beta1\(scope)/peerauthentications",
            "AuthorizationPolicy": "/apis/security.istio.io/v1beta1\(scope)/authorizationpolicies",
            "Gateway": "/apis/networking.istio.io/v1beta1\(scope)/gateways",
            // Linkerd's policy resources.
            "Server": "/apis/policy.linkerd.io/v1beta3\(scope)/servers",
            "ServerAuthorization": "/apis/policy.linkerd.io/v1beta1\(scope)/serverauthorizations",
            // Cilium's (cilium policy get, cilium endpoint list).
            "CiliumNetworkPolicy": "/apis/cilium.io/v2\(scope)/ciliumnetworkpolicies",
            "CiliumEndpoint": "/apis/cilium.io/v2\(scope)/ciliumendpoints",
        ]
        var output = StepOutput()
        var data: [JSONValue] = []
        for kind in step.kinds ?? ["DestinationRule", "VirtualService", "PeerAuthentication", "AuthorizationPolicy"] {
            guard let path = paths[kind] else { throw StepSkipped(reason: "unknown mesh resource kind \(kind)") }
            let objects = try await client.list(GenericObject.self, path)
            if objects.isEmpty { output.lines.append("no \(kind) in \(namespace ?? "any namespace")") }
            for object in objects.prefix(limit) {
                // A CiliumEndpoint's story is its status (state, identity, policy enforcement).
                let body = kind == "CiliumEndpoint" ? object.status : object.spec
                let name = namespace == nil ? "\(object.metadata.namespace ?? "")/\(object.metadata.name)" : object.metadata.name
                output.lines.append("\(kind) \(name): " + String((body?.text ?? "{}").prefix(400)))
                data.append(.object(["kind": .string(kind), "name": .string(object.metadata.name), kind == "CiliumEndpoint" ? "status" : "spec": body ?? .null]))
            }
            output.truncated = output.truncated || objects.count > limit
        }
        output.data = .array(data)
        return output
    }

    // MARK: Certificates

    private func certificates(_ step: RunbookStep, namespace: String?, at time: Date, limit: Int) async throws -> StepOutput {
        let client = try kube()
        let scope = namespace.map { "/namespaces/\($0)" } ?? ""
        var rows: [(name: String, source: String, notAfter: Date?, note: String)] = []
        do {
            for certificate in try await client.list(GenericObject.self, "/apis/cert-manager.io/v1\(scope)/certificates") {
                let notAfter = certificate.status?["notAfter"]?.string.flatMap(KubeTime.parse)
                let ready = (certificate.status?["conditions"]).flatMap { conditions -> String? in
                    if case .array(let list) = conditions { return list.first { $0["type"]?.string == "Ready" }?["status"]?.string }
                    return nil
                }
                rows.append(("\(certificate.metadata.namespace ?? "")/\(certificate.metadata.name)", "Certificate", notAfter,
                             "ready \(ready ?? "unknown"), secret \(certificate.spec?["secretName"]?.string ?? "?")"))
            }
        } catch let error as KubernetesError where error.isNotFound {
            rows.append(("", "Certificate", nil, "cert-manager is not installed (no certificates.cert-manager.io)"))
        }
        // TLS secrets only by name, with GET (RBAC can grant exactly those): a LIST of Secrets
        // would return every key of the namespace, CA keys included, to read one tls.crt.
        for name in step.secrets ?? [] {
            do {
                let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2 else { throw StepSkipped(reason: "expected namespace/name") }
                let secret = try await client.get(TLSSecret.self, try KubernetesPath.namespaced(namespace: parts[0], resource: "secrets", name: parts[1]))
                guard let pem = secret.certificatePEM else {
                    rows.append((name, "Secret", nil, "has no tls.crt"))
                    continue
                }
                do {
                    let certificate = try Certificate(pemEncoded: String(decoding: pem, as: UTF8.self))
                    rows.append((name, "Secret", certificate.notValidAfter, "subject \(certificate.subject)"))
                } catch {
                    rows.append((name, "Secret", nil, "tls.crt is not a PEM certificate: \(error)"))
                }
            }
        }
        // Public trust roots in ConfigMaps (`namespace/name/key`): every certificate of the bundle.
        for reference in step.configmaps ?? [] {
            let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { throw StepSkipped(reason: "configmaps: expected namespace/name/key, got \(KubernetesName.quoted(reference))") }
            do {
                let map = try await client.get(ConfigMap.self, try KubernetesPath.namespaced(namespace: parts[0], resource: "configmaps", name: parts[1]))
                guard let bundle = map.data?[parts[2]] else {
                    rows.append((reference, "ConfigMap", nil, "has no key \(parts[2])"))
                    continue
                }
                let certificates = CertificateDates.blocks(bundle)
                if certificates.isEmpty { rows.append((reference, "ConfigMap", nil, "\(parts[2]) holds no PEM certificate")) }
                for (index, pem) in certificates.enumerated() {
                    do {
                        let certificate = try Certificate(pemEncoded: pem)
                        rows.append((certificates.count > 1 ? "\(reference)[\(index)]" : reference, "ConfigMap", certificate.notValidAfter,
                                     "trust root, subject \(certificate.subject)"))
                    } catch {
                        rows.append((reference, "ConfigMap", nil, "not a PEM certificate: \(error)"))
                    }
                }
            } catch let error as KubernetesError where error.isNotFound {
                rows.append((reference, "ConfigMap", nil, "not found"))
            }
        }
        rows.sort { ($0.notAfter ?? .distantFuture) < ($1.notAfter ?? .distantFuture) }
        var output = StepOutput()
        output.truncated = rows.count > limit
        output.lines = rows.prefix(limit).map { row in
            guard let notAfter = row.notAfter else { return "\(row.source) \(row.name): \(row.note)" }
            let days = notAfter.timeIntervalSince(time) / 86_400
            let when = days < 0 ? "EXPIRED \(cFormat("%.1f", -days)) days ago" : "expires in \(cFormat("%.1f", days)) days"
            return "\(row.source) \(row.name): \(when) (NotAfter \(Self.timestamp(notAfter))), \(row.note)"
        }
        if rows.isEmpty { output.lines = ["no certificates found"] }
        output.data = .array(rows.prefix(limit).map { row in
            .object(["name": .string(row.name), "source": .string(row.source),
                     "notAfter": row.notAfter.map { .string(Self.timestamp($0)) } ?? .null, "note": .string(row.note)])
        })
        return output
    }

    static func timestamp(_ date: Date) -> String {
        RFC3339.string(date)
    }

    /// The time of day in UTC, `HH:MM:SSZ`.
    static func clock(_ date: Date) -> String {
        String(RFC3339.string(date).drop { $0 != "T" }.dropFirst())
    }

    static func minutes(_ value: Double) -> String {
        value < 1 ? "\(Int(value * 60)) seconds" : value < 120 ? cFormat("%.0f minutes", value) : cFormat("%.1f hours", value / 60)
    }
}
