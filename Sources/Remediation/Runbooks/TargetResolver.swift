import Foundation

/// Finds the Deployment an alert is about: the runbook's own target labels first (Linkerd's
/// `deployment` and `namespace`), then `destination_workload` with `destination_workload_namespace`;
/// else `destination_service` → its Service → the selector → the Deployment whose template the
/// selector matches; else none, said plainly.
///
/// Label values are untrusted: on every route each name is checked against Kubernetes's
/// rules before any request is built from it, and a value that fails is refused with the reason.
struct TargetResolver: Sendable {
    let client: KubernetesClient

    struct Problem: Error, CustomStringConvertible { let description: String }

    /// The Deployment named by a workload label and a namespace label; nil to go on with the
    /// Service (`serviceFallback`, when the Deployment is not there).
    private func byWorkload(_ workload: String, namespaceLabel: String, workloadLabel: String, labels: [String: String],
                            serviceFallback: Bool) async -> Result<Evidence.Target, Problem>? {
        guard let namespace = labels[namespaceLabel], !namespace.isEmpty else {
            return .failure(Problem(description: "the alert names workload \(KubernetesName.quoted(workload)) but no \(namespaceLabel)"))
        }
        let reference: WorkloadRef
        do { reference = try WorkloadRef(namespace: namespace, name: workload) } catch {
            return .failure(Problem(description: "label \(workloadLabel)/\(namespaceLabel) refused: \(error)"))
        }
        do {
            let deployment = try await client.get(Deployment.self, reference.path)
            return .success(.init(namespace: reference.namespace, deployment: reference.name, resolvedBy: "\(workloadLabel) label",
                                  uid: deployment.metadata.uid))
        } catch let error as KubernetesError where error.isNotFound {
            return serviceFallback ? nil : .failure(Problem(description: "no Deployment \(reference)"))
        } catch {
            return .failure(Problem(description: "cannot read Deployment \(reference): \(error)"))
        }
    }

    func resolve(_ labels: [String: String], hint: Runbook.TargetLabels? = nil) async -> Result<Evidence.Target, Problem> {
        if let hint, let workload = labels[hint.workload], !workload.isEmpty {
            if let found = await byWorkload(workload, namespaceLabel: hint.namespace, workloadLabel: hint.workload, labels: labels, serviceFallback: false) {
                return found
            }
        }
        if let workload = labels["destination_workload"], !workload.isEmpty, workload != "unknown" {
            // Istio's workload name is usually the Deployment's; when not, the service is tried.
            if let found = await byWorkload(workload, namespaceLabel: "destination_workload_namespace", workloadLabel: "destination_workload",
                                            labels: labels, serviceFallback: labels["destination_service"] != nil) {
                return found
            }
        }
        guard let service = labels["destination_service"], !service.isEmpty, service != "unknown" else {
            return .failure(Problem(description: "the alert has no destination_workload or destination_service label"))
        }
        // reviews.shop.svc.cluster.local → reviews in shop
        let parts = service.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2 else {
            return .failure(Problem(description: "destination_service \(KubernetesName.quoted(service)) is not <name>.<namespace>.svc…"))
        }
        let (name, namespace) = (parts[0], parts[1])
        if let problem = KubernetesName.serviceProblem(name) ?? KubernetesName.labelProblem(namespace) {
            return .failure(Problem(description: "label destination_service refused: \(KubernetesName.quoted(service)) does not name a valid Service and namespace (\(problem))"))
        }
        do {
            let object = try await client.get(Service.self, try KubernetesPath.namespaced(namespace: namespace, resource: "services", name: name))
            guard let selector = object.spec?.selector, !selector.isEmpty else {
                return .failure(Problem(description: "Service \(namespace)/\(name) has no selector"))
            }
            let deployments = try await client.list(Deployment.self, try KubernetesPath.namespaced(group: "apps", namespace: namespace, resource: "deployments"))
            let matching = deployments.filter { deployment in
                let labels = deployment.spec.template.metadata?.labels ?? [:]
                return selector.allSatisfy { labels[$0.key] == $0.value }
            }
            guard let first = matching.first else {
                return .failure(Problem(description: "no Deployment in \(namespace) matches Service \(name)'s selector"))
            }
            if matching.count > 1 {
                return .failure(Problem(description: "Service \(namespace)/\(name) selects \(matching.count) Deployments (\(matching.map(\.metadata.name).joined(separator: ", ")))"))
            }
            // The API's own answer is outside input too.
            let reference: WorkloadRef
            do { reference = try WorkloadRef(namespace: namespace, name: first.metadata.name) } catch {
                return .failure(Problem(description: "the API returned a Deployment name that is not valid: \(error)"))
            }
            return .success(.init(namespace: reference.namespace, deployment: reference.name, resolvedBy: "destination_service → Service → selector",
                                  uid: first.metadata.uid))
        } catch let error as KubernetesError where error.isNotFound {
            return .failure(Problem(description: "no Service \(namespace)/\(name)"))
        } catch {
            return .failure(Problem(description: "cannot resolve \(KubernetesName.quoted(service)): \(error)"))
        }
    }
}
