import Foundation
import MetricModel
import Remediation

/// What the checks read, in one pass: read-only GETs and LISTs a read-only Role grants, never a
/// Secret unless it is named (`readSecrets`), and a mesh's resources only where its API exists.
public struct ClusterSnapshot: Sendable {
    public var namespaces: [GenericObject] = []
    public var pods: [Pod] = []
    public var services: [GenericObject] = []
    public var serviceAccounts: [GenericObject] = []
    public var virtualServices: [GenericObject] = []
    public var destinationRules: [GenericObject] = []
    public var gateways: [GenericObject] = []
    public var authorizationPolicies: [GenericObject] = []
    public var peerAuthentications: [GenericObject] = []
    public var certificates: [GenericObject] = []
    public var ciliumNetworkPolicies: [GenericObject] = []
    /// TLS secrets read because they were named: `namespace/name` → the certificate's NotAfter, or nil when missing.
    public var secrets: [String: Date?] = [:]
    /// API groups that are not served (a mesh not installed): their checks are skipped, and said so.
    public var notInstalled: Set<String> = []
    /// The namespaces analysed (all when nil).
    public var scope: [String]?

    public init() {}

    /// The namespaces in scope.
    public var namespaceNames: [String] { namespaces.map(\.metadata.name).filter { scope?.contains($0) ?? true } }

    func inScope(_ namespace: String?) -> Bool { scope.map { $0.contains(namespace ?? "") } ?? true }
}

/// The API could not be read: analyze exits with its own code rather than report a clean mesh.
public struct AnalysisReadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

extension ClusterSnapshot {
    /// Reads the cluster: the namespaces in `scope` (every namespace when nil) and the mesh
    /// configuration of every namespace (a VirtualService may name another's Gateway).
    public static func read(_ client: KubernetesClient, scope: [String]?, readSecrets: [String] = []) async throws(AnalysisReadError) -> ClusterSnapshot {
        var snapshot = ClusterSnapshot()
        snapshot.scope = scope
        func list<T: Decodable & Sendable>(_ type: T.Type, _ group: String?, _ path: String, namespaced: Bool) async throws(AnalysisReadError) -> [T] {
            let prefix = group.map { "/apis/\($0)" } ?? "/api/v1"
            var paths: [String] = []
            if namespaced, let scope { paths = scope.map { "\(prefix)/namespaces/\($0)/\(path)" } } else { paths = ["\(prefix)/\(path)"] }
            var items: [T] = []
            for path in paths {
                do {
                    items += try await client.listAll(type, path)
                } catch let error as KubernetesError where error.isNotFound && group != nil {
                    snapshot.notInstalled.insert(String(group!.split(separator: "/")[0]))
                    return []
                } catch {
                    throw AnalysisReadError(description: "cannot read \(path): \(error)")
                }
            }
            return items
        }
        if let scope {
            for name in scope {
                do {
                    snapshot.namespaces.append(try await client.get(GenericObject.self, try KubernetesPath.cluster(resource: "namespaces", name: name)))
                } catch let error as KubernetesError where error.isNotFound {
                    throw AnalysisReadError(description: "namespace \(name) does not exist")
                } catch {
                    throw AnalysisReadError(description: "cannot read namespace \(name): \(error)")
                }
            }
        } else {
            snapshot.namespaces = try await list(GenericObject.self, nil, "namespaces", namespaced: false)
        }
        snapshot.pods = try await list(Pod.self, nil, "pods", namespaced: true)
        snapshot.services = try await list(GenericObject.self, nil, "services", namespaced: true)
        snapshot.serviceAccounts = try await list(GenericObject.self, nil, "serviceaccounts", namespaced: false)
        snapshot.virtualServices = try await list(GenericObject.self, "networking.istio.io/v1beta1", "virtualservices", namespaced: false)
        snapshot.destinationRules = try await list(GenericObject.self, "networking.istio.io/v1beta1", "destinationrules", namespaced: false)
        snapshot.gateways = try await list(GenericObject.self, "networking.istio.io/v1beta1", "gateways", namespaced: false)
        snapshot.authorizationPolicies = try await list(GenericObject.self, "security.istio.io/v1beta1", "authorizationpolicies", namespaced: false)
        snapshot.peerAuthentications = try await list(GenericObject.self, "security.istio.io/v1beta1", "peerauthentications", namespaced: false)
        snapshot.certificates = try await list(GenericObject.self, "cert-manager.io/v1", "certificates", namespaced: false)
        snapshot.ciliumNetworkPolicies = try await list(GenericObject.self, "cilium.io/v2", "ciliumnetworkpolicies", namespaced: true)
        // A Secret only by name, with GET, and only because the operator named it.
        for reference in readSecrets {
            let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw AnalysisReadError(description: "--read-secret: expected namespace/name, got \(reference)") }
            do {
                let secret = try await client.get(TLSSecret.self, try KubernetesPath.namespaced(namespace: parts[0], resource: "secrets", name: parts[1]))
                snapshot.secrets[reference] = secret.certificatePEM.flatMap { CertificateDates.notAfter(pem: $0) }
            } catch let error as KubernetesError where error.isNotFound {
                snapshot.secrets[reference] = .some(nil)
            } catch {
                throw AnalysisReadError(description: "cannot read Secret \(reference): \(error)")
            }
        }
        return snapshot
    }
}
