import AlertEngine
import Foundation
import GoTemplate
import PromQL
import Remediation
import Yams

/// A rule pack as data: parameters, alert rules and their runbooks, read from one YAML file.
/// The built-in packs (`Packs/*.yml`) are compiled into the binary; a configuration may name
/// others by path. Placeholders `${key}` and `${key|filter}` in the rules and runbooks take the
/// parameters' values (see `RulePack+Expansion.swift`).
public struct RulePack: Sendable {
    /// What a parameter's value may be.
    public enum Kind: String, Sendable, CaseIterable {
        case duration, positiveDuration = "positive_duration", share, number
        /// A label value such as a job or container name: quoted into expressions, never pasted.
        case name
        /// A label name such as `namespace`: `[a-zA-Z_][a-zA-Z0-9_]*`, pasted as it is.
        case label
    }

    public struct Parameter: Sendable {
        public let key: String
        public let kind: Kind
        /// The default, normalised as a value set by hand would be.
        public let defaultValue: String
        public let help: String
    }

    /// One alert rule before expansion.
    struct Rule: Sendable {
        var alert: String
        var expression: String
        var holdDuration: String
        var severity: String
        var summary: String
        var description: String
        var labels: [(name: String, value: String)]
        /// Where the rule starts in the pack file, for messages.
        var line: Int
    }

    /// The pack's name: `--pack NAME`, `packs.NAME` in the configuration.
    public let name: String
    /// The `mesh` label of every alert.
    public let mesh: String
    public let title: String
    public let summary: String
    /// Where the pack was read from (`<built-in istio pack>` for a built-in one).
    public let file: String
    public let parameters: [Parameter]
    let fragments: [(name: String, text: String)]
    let rules: [Rule]
    /// The runbooks before expansion, as YAML text whose scalars take the parameters, with the
    /// line each starts on in the pack file.
    let runbooks: [(line: Int, text: String)]
    public let builtIn: Bool

    /// The rule group's name: `meshwatchd-<pack>`.
    public var groupName: String { "meshwatchd-\(name)" }
    /// The alerts of the pack, in file order.
    public var alertNames: [String] { rules.map(\.alert) }
}

/// A pack file that cannot be read, or a parameter value that does not fit.
public struct PackError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension RulePack {
    /// The packs compiled into the binary, by name.
    public static let builtInPacks: [RulePack] = {
        let sources: [(String, [UInt8])] = [("istio", PackageResources.istio_yml),
                                            ("linkerd", PackageResources.linkerd_yml),
                                            ("cilium", PackageResources.cilium_yml)]
        return sources.map { name, bytes in
            do {
                return try RulePack(yaml: String(decoding: bytes, as: UTF8.self), file: "<built-in \(name) pack>", builtIn: true)
            } catch {
                // The files are part of the build and every one is loaded by the tests.
                fatalError("built-in pack \(name): \(error)")
            }
        }
    }()

    public static var builtInNames: [String] { builtInPacks.map(\.name) }

    public static func builtIn(_ name: String) -> RulePack? { builtInPacks.first { $0.name == name } }

    /// The pack file as it ships, for `rules export --pack NAME --format pack`.
    public static func builtInSource(_ name: String) -> String? {
        switch name {
        case "istio": String(decoding: PackageResources.istio_yml, as: UTF8.self)
        case "linkerd": String(decoding: PackageResources.linkerd_yml, as: UTF8.self)
        case "cilium": String(decoding: PackageResources.cilium_yml, as: UTF8.self)
        default: nil
        }
    }

    /// Reads a pack file named in the configuration.
    public static func load(path: String) throws(PackError) -> RulePack {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PackError("\(path): cannot read the pack file: \(error.localizedDescription)")
        }
        return try RulePack(yaml: text, file: path, builtIn: false)
    }

    /// Parses and checks a pack: every key known, every placeholder defined, and with the
    /// defaults every expression PromQL, every template a template, every runbook a runbook.
    public init(yaml: String, file: String, builtIn: Bool) throws(PackError) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml, .basic) else { throw PackError("\(file): the pack file is empty") }
            root = node
        } catch let error as PackError { throw error } catch {
            throw PackError("\(file): not YAML: \(error)")
        }
        let reader = PackReader(file: file)
        let top = try reader.mapping(root, "the pack", keys: ["pack", "mesh", "title", "summary", "parameters", "fragments", "rules", "runbooks"])
        name = try reader.required(top, "pack")
        guard Self.isPackName(name) else {
            throw PackError("\(reader.at(top["pack"])): pack: expected a lower-case name such as linkerd (not \(Self.reservedNames.sorted().joined(separator: ", "))), got \(GoQuote.quote(name))")
        }
        mesh = try reader.optional(top, "mesh") ?? name
        title = try reader.optional(top, "title") ?? name
        summary = try reader.optional(top, "summary") ?? ""
        self.file = file
        self.builtIn = builtIn

        var parameters: [Parameter] = []
        for (index, node) in try reader.sequence(top["parameters"], "parameters").enumerated() {
            let path = "parameters[\(index)]"
            let map = try reader.mapping(node, path, keys: ["key", "kind", "default", "help"])
            let key = try reader.required(map, "key", path: path)
            guard Self.isParameterKey(key) else {
                throw PackError("\(reader.at(node)): \(path).key: expected a dotted lower-case key such as error_rate.for, got \"\(key)\"")
            }
            guard !parameters.contains(where: { $0.key == key }) else { throw PackError("\(reader.at(node)): \(path): parameter \(key) twice") }
            let kindText = try reader.required(map, "kind", path: path)
            guard let kind = Kind(rawValue: kindText) else {
                throw PackError("\(reader.at(map["kind"])): \(path).kind: expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(kindText)\"")
            }
            let text = try reader.required(map, "default", path: path)
            let value: String
            do { value = try Self.normalise(text, kind: kind, key: key) } catch {
                throw PackError("\(reader.at(map["default"])): \(path).default: \(error)")
            }
            parameters.append(Parameter(key: key, kind: kind, defaultValue: value, help: try reader.optional(map, "help", path: path) ?? ""))
        }
        self.parameters = parameters

        var fragments: [(name: String, text: String)] = []
        if let node = top["fragments"] {
            guard let map = node.mapping else { throw PackError("\(reader.at(node)): fragments: expected a mapping of name: text") }
            for (keyNode, valueNode) in map {
                guard let key = keyNode.scalar?.string, let text = valueNode.scalar?.string else {
                    throw PackError("\(reader.at(keyNode)): fragments: expected name: text")
                }
                guard !parameters.contains(where: { $0.key == key }), !fragments.contains(where: { $0.name == key }) else {
                    throw PackError("\(reader.at(keyNode)): fragments.\(key): the name is taken")
                }
                fragments.append((key, text))
            }
        }
        self.fragments = fragments

        var rules: [Rule] = []
        for (index, node) in try reader.sequence(top["rules"], "rules").enumerated() {
            let path = "rules[\(index)]"
            let map = try reader.mapping(node, path, keys: ["alert", "expr", "for", "severity", "summary", "description", "labels"])
            let alert = try reader.required(map, "alert", path: path)
            guard Self.isLabelName(alert) else {
                throw PackError("\(reader.at(node)): \(path).alert: expected a metric name, got \"\(alert)\"")
            }
            guard !rules.contains(where: { $0.alert == alert }) else { throw PackError("\(reader.at(node)): \(path): alert \(alert) twice") }
            var labels: [(name: String, value: String)] = []
            if let labelNode = map["labels"] {
                guard let labelMap = labelNode.mapping else { throw PackError("\(reader.at(labelNode)): \(path).labels: expected a mapping") }
                for (keyNode, valueNode) in labelMap {
                    guard let key = keyNode.scalar?.string, let value = valueNode.scalar?.string else {
                        throw PackError("\(reader.at(keyNode)): \(path).labels: expected name: value")
                    }
                    guard Self.isLabelName(key) else { throw PackError("\(reader.at(keyNode)): \(path).labels: \(GoQuote.quote(key)) is not a label name") }
                    guard !["mesh", "runbook", "severity", "alertname"].contains(key) else {
                        throw PackError("\(reader.at(keyNode)): \(path).labels.\(key): set by the pack itself")
                    }
                    labels.append((key, value))
                }
            }
            rules.append(Rule(alert: alert, expression: try reader.required(map, "expr", path: path),
                              holdDuration: try reader.optional(map, "for", path: path) ?? "0s",
                              severity: try reader.required(map, "severity", path: path),
                              summary: try reader.required(map, "summary", path: path),
                              description: try reader.required(map, "description", path: path),
                              labels: labels, line: (node.mark?.line ?? 0)))
        }
        self.rules = rules
        let runbookNodes = try reader.sequence(top["runbooks"], "runbooks")
        var runbooks: [(line: Int, text: String)] = []
        for (index, node) in runbookNodes.enumerated() {
            // Every key known: a misspelt one (namepsace:) would otherwise be dropped in silence.
            let map = try reader.mapping(node, "runbooks[\(index)]", keys: ["alert", "title", "steps", "remediation", "target"])
            for (stepIndex, step) in try reader.sequence(map["steps"], "runbooks[\(index)].steps").enumerated() {
                _ = try reader.mapping(step, "runbooks[\(index)].steps[\(stepIndex)]", keys: Self.stepKeys)
            }
            guard let alert = node.mapping?["alert"]?.scalar?.string, rules.contains(where: { $0.alert == alert }) else {
                throw PackError("\(reader.at(node)): runbooks[\(index)].alert: expected the name of one of the pack's alerts")
            }
            do { runbooks.append((node.mark?.line ?? 0, try Yams.serialize(node: node))) } catch {
                throw PackError("\(reader.at(node)): runbooks[\(index)]: \(error)")
            }
        }
        self.runbooks = runbooks
        // Everything must expand with the defaults: a pack that loads is a pack that works.
        _ = try expanded(with: defaults)
    }
}

extension RulePack {
    /// `[a-z][a-z0-9-]{0,62}`, and not a name the daemon's own groups use.
    static func isPackName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.unicodeScalars.count <= 63,
              !reservedNames.contains(text) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// `meshwatchd-analyze` is the scheduled configuration checks' group: no pack may be called `analyze`.
    public static let reservedNames: Set<String> = ["analyze"]

    /// Dotted lower-case words: `error_rate.for`.
    static func isParameterKey(_ text: String) -> Bool {
        text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            guard let first = part.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
            return part.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        }
    }

    /// The keys a runbook step may have (`RunbookStep`'s).
    static let stepKeys: Set<String> = ["name", "kind", "timeout", "limit", "query", "namespace", "container", "filter", "selector", "window",
                                        "kinds", "secrets", "configmaps", "url", "command", "checks"]
}

/// Reads the pack file's nodes with messages that name the file, line and key.
struct PackReader {
    let file: String

    func at(_ node: Node?) -> String {
        guard let mark = node?.mark else { return file }
        return "\(file):\(mark.line):\(mark.column)"
    }

    func mapping(_ node: Node, _ path: String, keys: Set<String>) throws(PackError) -> Node.Mapping {
        guard let map = node.mapping else { throw PackError("\(at(node)): \(path): expected a mapping") }
        for key in map.keys {
            guard let name = key.scalar?.string, keys.contains(name) else {
                throw PackError("\(at(key)): \(path): unknown key \"\(key.scalar?.string ?? "?")\" (known: \(keys.sorted().joined(separator: ", ")))")
            }
        }
        return map
    }

    func sequence(_ node: Node?, _ path: String) throws(PackError) -> [Node] {
        guard let node else { return [] }
        guard let sequence = node.sequence else { throw PackError("\(at(node)): \(path): expected a list") }
        return Array(sequence)
    }

    func optional(_ map: Node.Mapping, _ key: String, path: String = "") throws(PackError) -> String? {
        guard let node = map[key] else { return nil }
        guard let scalar = node.scalar else { throw PackError("\(at(node)): \(path.isEmpty ? key : "\(path).\(key)"): expected text") }
        return scalar.string
    }

    func required(_ map: Node.Mapping, _ key: String, path: String = "") throws(PackError) -> String {
        guard let value = try optional(map, key, path: path) else {
            throw PackError("\(file): \(path.isEmpty ? key : "\(path).\(key)"): missing")
        }
        return value
    }
}

extension RulePack {
    /// A built-in pack with its defaults (which every test loads, so it always expands).
    public static func withDefaults(_ name: String) -> Expanded {
        guard let pack = builtIn(name), let expanded = try? pack.expanded(with: pack.defaults) else {
            fatalError("no built-in pack \(name)")
        }
        return expanded
    }
}
