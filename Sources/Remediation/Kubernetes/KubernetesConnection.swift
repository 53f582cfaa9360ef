import Foundation
import MeshHTTP
import Yams

/// How to reach one Kubernetes API server: its URL, TLS and credentials, from the pod's
/// service account (in-cluster) or from a kubeconfig file, as client-go reads them.
public struct KubernetesConnection: Sendable {
    public var server: String
    public var tls: HTTPClientConfiguration.TLS
    public var authentication: HTTPClientConfiguration.Authentication
    /// An `exec` credential plugin (EKS, GKE): its token is added to every request.
    public var exec: ExecCredentialPlugin?
    /// The namespace of the context or of the service account.
    public var namespace: String

    public init(server: String, tls: HTTPClientConfiguration.TLS = .init(), authentication: HTTPClientConfiguration.Authentication = .none,
                exec: ExecCredentialPlugin? = nil, namespace: String = "default") {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.authentication = authentication
        self.exec = exec
        self.namespace = namespace
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In-cluster: `KUBERNETES_SERVICE_HOST`/`PORT`, the projected token (re-read when
    /// Kubernetes rotates it), the cluster CA and the pod's namespace.
    public static func inCluster(environment: [String: String], directory: String = serviceAccountDirectory) throws(KubernetesConfigError) -> KubernetesConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw KubernetesConfigError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        let token = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: token) else {
            throw KubernetesConfigError("cannot read the service account token \(token)")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "default"
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return KubernetesConnection(server: "https://\(bracketed):\(port)", tls: .init(caFile: directory + "/ca.crt"),
                                    authentication: .bearerTokenFile(token), namespace: namespace.isEmpty ? "default" : namespace)
    }

    /// From a kubeconfig: the named context or the current one. Inline `*-data` fields are
    /// written to files in `materialDirectory` (created 0700), as libcurl reads files.
    public static func kubeconfig(path: String, context name: String? = nil, materialDirectory: String? = nil) throws(KubernetesConfigError) -> KubernetesConnection {
        guard let data = FileManager.default.contents(atPath: path) else { throw KubernetesConfigError("\(path): cannot be read") }
        let config: Kubeconfig
        do {
            config = try YAMLDecoder().decode(Kubeconfig.self, from: String(decoding: data, as: UTF8.self))
        } catch {
            throw KubernetesConfigError("\(path): not a kubeconfig: \(error)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ file: String?) -> String? { file.map { $0.hasPrefix("/") ? $0 : base + "/" + $0 } }
        guard let contextName = name ?? config.currentContext, !contextName.isEmpty else {
            throw KubernetesConfigError("\(path): no current-context and no context named")
        }
        guard let context = config.contexts?.first(where: { $0.name == contextName })?.context else {
            throw KubernetesConfigError("\(path): no context named \"\(contextName)\"")
        }
        guard let cluster = config.clusters?.first(where: { $0.name == context.cluster })?.cluster else {
            throw KubernetesConfigError("\(path): context \"\(contextName)\" names cluster \"\(context.cluster)\", which is not defined")
        }
        let user = context.user.flatMap { name in config.users?.first(where: { $0.name == name })?.user } ?? .init()
        // One directory per process, written again on each load (a reload replaces, never adds)
        // and removed at exit; 0700, its files 0600 whatever the umask.
        let directory = materialDirectory ?? CredentialFiles.directory
        var prepared = false
        func write(_ base64: String?, _ fileName: String) throws(KubernetesConfigError) -> String? {
            guard let base64 else { return nil }
            guard let bytes = Data(base64Encoded: base64.filter { !$0.isWhitespace }) else {
                throw KubernetesConfigError("\(path): \(fileName) data is not base64")
            }
            let file = directory + "/" + fileName
            if !prepared {
                if materialDirectory == nil { CredentialFiles.removeAtExit() }
                mkdir(directory, 0o700)
                // A directory someone else made (or a symlink) in a shared /tmp is not ours to write keys into.
                var info = stat()
                guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid() else {
                    throw KubernetesConfigError("\(directory) is not a directory of this user; refusing to write credentials there")
                }
                prepared = true
            }
            let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard descriptor >= 0, chmod(directory, 0o700) == 0, fchmod(descriptor, 0o600) == 0 else {
                if descriptor >= 0 { close(descriptor) }
                throw KubernetesConfigError("cannot write \(fileName) to \(directory): \(String(cString: strerror(errno)))")
            }
            defer { close(descriptor) }
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            guard written == bytes.count else { throw KubernetesConfigError("cannot write \(fileName) to \(directory)") }
            return file
        }
        let tls = HTTPClientConfiguration.TLS(
            caFile: try write(cluster.certificateAuthorityData, "ca.crt") ?? resolve(cluster.certificateAuthority),
            certificateFile: try write(user.clientCertificateData, "client.crt") ?? resolve(user.clientCertificate),
            keyFile: try write(user.clientKeyData, "client.key") ?? resolve(user.clientKey),
            insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false)
        var authentication = HTTPClientConfiguration.Authentication.none
        if let token = user.token {
            authentication = .bearerToken(token)
        } else if let file = resolve(user.tokenFile) {
            authentication = .bearerTokenFile(file)
        } else if let username = user.username, let password = user.password {
            authentication = .basic(username: username, password: password)
        }
        let exec = try user.exec.map { spec throws(KubernetesConfigError) in
            guard !spec.command.isEmpty else { throw KubernetesConfigError("\(path): user \"\(context.user ?? "")\": exec.command is empty") }
            return ExecCredentialPlugin(command: spec.command.contains("/") ? resolve(spec.command)! : spec.command, arguments: spec.args ?? [],
                                        environment: Dictionary((spec.env ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
                                        apiVersion: spec.apiVersion ?? "client.authentication.k8s.io/v1")
        }
        guard let server = cluster.server, server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw KubernetesConfigError("\(path): cluster \"\(context.cluster)\" has no http(s) server")
        }
        return KubernetesConnection(server: server, tls: tls, authentication: authentication, exec: exec,
                                    namespace: context.namespace ?? "default")
    }
}

public struct KubernetesConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The parts of a kubeconfig that a client reads.
struct Kubeconfig: Decodable {
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    struct User: Decodable {
        struct Exec: Decodable {
            struct Variable: Decodable { var name: String; var value: String }
            var command: String
            var args: [String]?
            var env: [Variable]?
            var apiVersion: String?
        }
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var username: String?
        var password: String?
        var exec: Exec?
        enum CodingKeys: String, CodingKey {
            case token, username, password, exec
            case tokenFile = "tokenFile"
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
        init() {}
    }
    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }
    var currentContext: String?
    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    enum CodingKeys: String, CodingKey {
        case currentContext = "current-context"
        case clusters, users, contexts
    }
    struct NamedCluster: Decodable { var name: String; var cluster: Cluster }
    struct NamedUser: Decodable { var name: String; var user: User }
    struct NamedContext: Decodable { var name: String; var context: Context }
}

/// Where inline kubeconfig credentials (`*-data`) are written for libcurl, which reads files:
/// one directory for the process, removed when it exits.
enum CredentialFiles {
    static var directory: String { NSTemporaryDirectory() + "meshwatchd-kube-\(getpid())" }

    private static let registered: Void = {
        atexit {
            let path = NSTemporaryDirectory() + "meshwatchd-kube-\(getpid())"
            try? FileManager.default.removeItem(atPath: path)
        }
    }()

    static func removeAtExit() { _ = registered }
}
