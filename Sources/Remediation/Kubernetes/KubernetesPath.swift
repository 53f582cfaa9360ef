import Foundation

/// API paths and query strings, built from validated, escaped parts; never by pasting a label
/// value into a URL. `KubernetesClient` checks every path again before it is sent.
public enum KubernetesPath {
    public static func deployment(_ workload: WorkloadRef) -> String {
        "/apis/apps/v1/namespaces/\(workload.namespace)/deployments/\(workload.name)"
    }

    /// `/api/v1/namespaces/<ns>/<resource>[/<name>[/<subresource>]]` or the `/apis/<group>/<version>/…` form;
    /// the namespace and name are validated here.
    public static func namespaced(group: String = "", version: String = "v1", namespace: String, resource: String, name: String? = nil,
                                  subresource: String? = nil) throws(InvalidKubernetesName) -> String {
        if let problem = KubernetesName.labelProblem(namespace) { throw InvalidKubernetesName(what: "namespace", value: namespace, problem: problem) }
        var path = (group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)") + "/namespaces/\(namespace)/\(resource)"
        if let name {
            if let problem = KubernetesName.subdomainProblem(name) { throw InvalidKubernetesName(what: "name", value: name, problem: problem) }
            path += "/" + name
            if let subresource { path += "/" + subresource }
        }
        return path
    }

    /// `/api/v1/<resource>/<name>` for a cluster-scoped object such as a namespace; the name is validated here.
    public static func cluster(resource: String, name: String) throws(InvalidKubernetesName) -> String {
        if let problem = KubernetesName.subdomainProblem(name) { throw InvalidKubernetesName(what: "name", value: name, problem: problem) }
        return "/api/v1/\(resource)/\(name)"
    }

    /// Why `path` may not be sent, or nil: every segment starts with a letter or digit and
    /// holds only letters, digits, `.`, `-` and `_` — so no `..`, `%`, `?`, `#`, space or control byte.
    public static func problem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "does not start with /" }
        for segment in path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let first = segment.first, isAlphanumeric(first) else { return "has an empty segment or one that does not start with a letter or digit" }
            for byte in segment where !isAlphanumeric(byte) && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "-") && byte != UInt8(ascii: "_") {
                return "has a character outside letters, digits, '.', '-' and '_'"
            }
        }
        return nil
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}

/// A query string: names and values percent-encoded (everything but RFC 3986's unreserved
/// characters), in the order added.
public struct KubernetesQuery: Sendable, Equatable {
    public private(set) var items: [(name: String, value: String)] = []

    public init() {}

    public mutating func add(_ name: String, _ value: String) { items.append((name, value)) }

    public var encoded: String {
        items.map { Self.escape($0.name) + "=" + Self.escape($0.value) }.joined(separator: "&")
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    public static func == (lhs: KubernetesQuery, rhs: KubernetesQuery) -> Bool { lhs.encoded == rhs.encoded }
}
