import Foundation

/// Names as the Kubernetes API server validates them (apimachinery's `validation` package).
///
/// Label values reach targets, URLs and queries; a name is checked against these rules before
/// anything is read or written with it, so what the scope guard compares is exactly what the
/// API server will see, and no name can carry `/`, `.` segments, `%`, `?`, `#` or control bytes.
public enum KubernetesName {
    /// A DNS-1123 label (namespaces, container names): at most 63 of `a-z0-9-`, alphanumeric at both ends.
    public static func labelProblem(_ value: String) -> String? {
        guard !value.isEmpty else { return "is empty" }
        guard value.utf8.count <= 63 else { return "is longer than 63 characters" }
        return segmentProblem(Array(value.utf8))
    }

    /// A DNS-1123 subdomain (Deployments, Pods, ConfigMaps, Leases, Secrets): at most 253
    /// characters, dot-separated DNS-1123 labels.
    public static func subdomainProblem(_ value: String) -> String? {
        guard !value.isEmpty else { return "is empty" }
        guard value.utf8.count <= 253 else { return "is longer than 253 characters" }
        for segment in value.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            if segment.isEmpty { return "has an empty part between dots" }
            if let problem = segmentProblem(Array(segment)) { return problem }
        }
        return nil
    }

    /// A DNS-1035 label (Services): a DNS-1123 label that starts with a letter.
    public static func serviceProblem(_ value: String) -> String? {
        if let problem = labelProblem(value) { return problem }
        return value.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } == true ? nil : "does not start with a letter"
    }

    private static func segmentProblem(_ bytes: [UInt8]) -> String? {
        for byte in bytes where !isLower(byte) && !isDigit(byte) && byte != UInt8(ascii: "-") {
            return "contains \(describe(byte)), outside a-z, 0-9 and -"
        }
        guard let first = bytes.first, let last = bytes.last, first != UInt8(ascii: "-"), last != UInt8(ascii: "-") else {
            return "must start and end with a letter or digit"
        }
        return nil
    }

    private static func isLower(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "\"\(Character(Unicode.Scalar(byte)))\"" }
        return byte == 0x20 ? "a space" : String(format: "byte 0x%02X", byte)
    }

    /// A value quoted for a message: escaped, and cut so a 200 kB label cannot flood a log line.
    public static func quoted(_ value: String) -> String {
        let cut = value.unicodeScalars.count > 80 ? String(String.UnicodeScalarView(value.unicodeScalars.prefix(80))) + "…" : value
        return cut.debugDescription
    }
}

/// A name that failed Kubernetes's rules: which one, the value (quoted) and why.
public struct InvalidKubernetesName: Error, CustomStringConvertible, Sendable, Equatable {
    public let what: String
    public let value: String
    public let problem: String
    public var description: String { "\(what) \(KubernetesName.quoted(value)) is not a valid Kubernetes name: it \(problem)" }
}

/// A Deployment meshwatchd may act on, as validated values: the namespace a DNS-1123 label,
/// the name a DNS-1123 subdomain. Built only through validation.
public struct WorkloadRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) throws(InvalidKubernetesName) {
        if let problem = KubernetesName.labelProblem(namespace) { throw InvalidKubernetesName(what: "namespace", value: namespace, problem: problem) }
        if let problem = KubernetesName.subdomainProblem(name) { throw InvalidKubernetesName(what: "Deployment name", value: name, problem: problem) }
        self.namespace = namespace
        self.name = name
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(namespace: try container.decode(String.self, forKey: .namespace), name: try container.decode(String.self, forKey: .name))
    }

    /// `namespace/name`.
    public var description: String { "\(namespace)/\(name)" }
    public var path: String { KubernetesPath.deployment(self) }
}
