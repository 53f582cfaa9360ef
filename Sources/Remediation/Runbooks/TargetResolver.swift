import Foundation

/// Finds the Deployment an alert is about: `destination_workload` with
/// `destination_workload_namespace` first; else `destination_service` → its Service → the
/// selector → the Deployment whose template the selector matches; else none, said plainly.
struct TargetResolver: Sendable {
    let client: KubernetesClient

    struct Problem: Error, CustomStringConvertible { let description: String }

    func resolve(_ labels: [String: String]) async -> Result<Evidence.Target, Problem> {
        if let workload = labels["destination_workload"], !workload.isEmpty, workload != "unknown" {
            guard let namespace = labels["destination_workload_namespace"], !namespace.isEmpty else {
                return .failure(Problem(description: "the alert names workload \(workload) but no destination_workload_namespace"))
            }
            do {
                _ = try await client.get(Deployment.self, "/apis/apps/v1/namespaces/\(namespace)/deployments/\(workload)")
                return .success(.init(namespace: namespace, deployment: workload, resolvedBy: "destination_workload label"))
            } catch let error as KubernetesError where error.isNotFound {
                // Istio's workload name is usually the Deployment's; when not, try the service.
                if labels["destination_service"] == nil {
                    return .failure(Problem(description: "no Deployment \(namespace)/\(workload)"))
                }
            } catch {
                return .failure(Problem(description: "cannot read Deployment \(namespace)/\(workload): \(error)"))
            }
        }
        guard let service = labels["destination_service"], !service.isEmpty, service != "unknown" else {
            return .failure(Problem(description: "the alert has no destination_workload or destination_service label"))
        }
        // reviews.shop.svc.cluster.local → reviews in shop
        let parts = service.split(separator: ".").map(String.init)
        guard parts.count >= 2 else { return .failure(Problem(description: "destination_service \(service) is not <name>.<namespace>.svc…")) }
        let (name, namespace) = (parts[0], parts[1])
        do {
            let object = try await client.get(Service.self, "/api/v1/namespaces/\(namespace)/services/\(name)")
            guard let selector = object.spec?.selector, !selector.isEmpty else {
                return .failure(Problem(description: "Service \(namespace)/\(name) has no selector"))
            }
            let deployments = try await client.list(Deployment.self, "/apis/apps/v1/namespaces/\(namespace)/deployments")
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
            return .success(.init(namespace: namespace, deployment: first.metadata.name, resolvedBy: "destination_service → Service → selector"))
        } catch let error as KubernetesError where error.isNotFound {
            return .failure(Problem(description: "no Service \(namespace)/\(name)"))
        } catch {
            return .failure(Problem(description: "cannot resolve \(service): \(error)"))
        }
    }
}
