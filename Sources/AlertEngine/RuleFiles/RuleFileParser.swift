import MetricModel
import Foundation
import PromQL
import Yams

/// Reads Prometheus rule files (`groups: [{name, interval, limit, rules: [...]}]`) with the
/// checks Prometheus's `rulefmt` makes, reporting every problem with file, line and field.
public struct RuleFileParser {
    private let file: String
    private let syntax: Syntax
    private let recordingRules: RecordingRulePolicy
    private var problems: [RuleFileError.Problem] = []
    private var warnings: [String] = []

    private static let groupFields: Set<String> = ["name", "interval", "limit", "query_offset", "labels", "rules"]
    private static let ruleFields: Set<String> = ["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"]

    /// Parses one file's text; `file` names it in messages.
    public static func parse(_ yaml: String, file: String, syntax: Syntax = .prometheus2,
                             recordingRules: RecordingRulePolicy = .evaluate) throws(RuleFileError) -> LoadedRules {
        var parser = RuleFileParser(file: file, syntax: syntax, recordingRules: recordingRules)
        let groups = parser.parseDocument(yaml)
        guard parser.problems.isEmpty else { throw RuleFileError(problems: parser.problems) }
        return LoadedRules(groups: groups, warnings: parser.warnings)
    }

    private init(file: String, syntax: Syntax, recordingRules: RecordingRulePolicy) {
        self.file = file
        self.syntax = syntax
        self.recordingRules = recordingRules
    }

    /// `~`, `null` or nothing at all.
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private mutating func problem(_ node: Node?, _ location: String, _ message: String) {
        problems.append(.init(file: file, line: node?.mark?.line, column: node?.mark?.column, location: location, message: message))
    }

    private mutating func parseDocument(_ yaml: String) -> [RuleGroup] {
        var documents: [Node] = []
        do {
            // Every document of the file (`---`), each read as it comes so a YAML error is reported.
            // Scalars are read as text, never typed (the `.basic` resolver): Yams's default one
            // matches every key looked up against ICU regular expressions, whose code and data
            // would then stay resident for the daemon's life.
            let parser = try Yams.Parser(yaml: yaml, resolver: .basic)
            while let document = try parser.nextRoot() { documents.append(document) }
        } catch let error as YamlError {
            problems.append(Self.yamlProblem(error, file: file))
            return []
        } catch {
            problems.append(.init(file: file, location: "", message: "\(error)"))
            return []
        }
        var groups: [RuleGroup] = []
        var seen: Set<String> = []
        for root in documents {
            guard case .mapping(let mapping) = root else {
                problem(root, "", "a rule file must be a mapping with a \"groups\" list")
                continue
            }
            // A kube-prometheus `PrometheusRule` object holds the same groups under `spec`.
            var groupsNode: Node?
            if mapping["kind"]?.string == "PrometheusRule" {
                guard case .mapping(let spec)? = mapping["spec"] else {
                    problem(root, "", "a PrometheusRule must have a \"spec\" with \"groups\"")
                    continue
                }
                groupsNode = spec["groups"]
            } else {
                for (key, _) in mapping where key.string != "groups" {
                    problem(key, "", "unknown field \"\(key.string ?? "?")\" (a rule file has only \"groups\")")
                }
                groupsNode = mapping["groups"]
            }
            guard let groupsNode else { continue }
            guard case .sequence(let sequence) = groupsNode else {
                problem(groupsNode, "", "\"groups\" must be a list")
                continue
            }
            for (index, node) in sequence.enumerated() {
                guard let group = parseGroup(node, index: index + 1) else { continue }
                if !seen.insert(group.name).inserted {
                    problem(node, "group \"\(group.name)\"", "groupname: \"\(group.name)\" is repeated in the same file")
                }
                groups.append(group)
            }
        }
        return groups
    }

    private mutating func parseGroup(_ node: Node, index: Int) -> RuleGroup? {
        guard case .mapping(let mapping) = node else {
            problem(node, "group \(index)", "a group must be a mapping")
            return nil
        }
        let name = mapping["name"]?.string ?? ""
        let location = name.isEmpty ? "group \(index)" : "group \"\(name)\""
        repeatedKeys(mapping, location)
        if name.isEmpty { problem(node, location, "field \"name\" must be set") }
        for key in mapping.keys where !Self.groupFields.contains(key.string ?? "") {
            problem(key, location, "unknown field \"\(key.string ?? "?")\" (a group has name, interval, limit, query_offset, labels, rules)")
        }
        var interval: Duration?
        if let node = mapping["interval"] {
            interval = duration(node, location + ", field \"interval\"")
            if interval == .zero { problem(node, location + ", field \"interval\"", "must be positive") }
        }
        var limit = 0
        if let node = mapping["limit"] {
            if let text = node.string, let value = Int(text), value >= 0 { limit = value } else {
                problem(node, location + ", field \"limit\"", "must be a whole number ≥ 0, got \(node.string ?? "a non-scalar")")
            }
        }
        // `query_offset` (Prometheus 2.53): zero is allowed and overrides the global offset.
        let queryOffset = mapping["query_offset"].flatMap { duration($0, location + ", field \"query_offset\"") }
        // Group `labels` (Prometheus 3): set on every rule of the group; a rule's own label wins.
        let groupLabels = stringMap(mapping["labels"], location + ", field \"labels\"", kind: "label")
        var rules: [AlertRule] = []
        // `rules:` with no value is an empty group, as promtool reads it.
        if let rulesNode = mapping["rules"], !Self.isNull(rulesNode) {
            if case .sequence(let sequence) = rulesNode {
                for (ruleIndex, ruleNode) in sequence.enumerated() {
                    if let rule = parseRule(ruleNode, group: location, index: ruleIndex + 1, groupLabels: groupLabels) {
                        rules.append(rule)
                    }
                }
            } else {
                problem(rulesNode, location + ", field \"rules\"", "must be a list")
            }
        }
        return RuleGroup(name: name, interval: interval, limit: limit, queryOffset: queryOffset, rules: rules, file: file)
    }

    private mutating func parseRule(_ node: Node, group: String, index: Int,
                                    groupLabels: [(name: String, template: String)]) -> AlertRule? {
        guard case .mapping(let mapping) = node else {
            problem(node, "\(group), rule \(index)", "a rule must be a mapping")
            return nil
        }
        let alert = mapping["alert"]?.string
        let record = mapping["record"]?.string
        let location = "\(group), rule \(index)" + ((alert ?? record).map { ", \"\($0)\"" } ?? "")
        repeatedKeys(mapping, location)
        for key in mapping.keys where !Self.ruleFields.contains(key.string ?? "") {
            problem(key, location, "unknown field \"\(key.string ?? "?")\"")
        }
        if alert != nil && record != nil {
            problem(node, location, "only one of \"record\" and \"alert\" must be set")
            return nil
        }
        guard let name = alert ?? record, !name.isEmpty else {
            problem(node, location, "one of \"record\" or \"alert\" must be set")
            return nil
        }
        let kind: RuleKind = alert == nil ? .recording : .alerting
        if kind == .recording {
            // As Prometheus's rulefmt: a recording rule's name is a metric name, and it has no alerting fields.
            if !Self.isValidMetricName(name) { problem(mapping["record"], location, "invalid recording rule name: \(name)") }
            // Reported at the rule's `record`, as promtool does.
            for field in ["annotations", "for", "keep_firing_for"] where mapping[field] != nil {
                problem(mapping["record"], location, "invalid field '\(field)' in recording rule")
            }
            switch recordingRules {
            case .evaluate:
                break
            case .skip:
                warnings.append("\(file): \(location): recording rule \"\(name)\" skipped (recording_rules: skip): "
                                + "rules that query \"\(name)\" see only what Prometheus itself records")
                return nil
            case .refuse:
                problem(mapping["record"], location, "recording rule \"\(name)\" needs remote_write: meshwatchd writes recorded series "
                        + "to a remote-write receiver (Prometheus with --web.enable-remote-write-receiver) and reads them back; "
                        + "configure remote_write, or set recording_rules: skip to evaluate only the alerting rules")
                return nil
            }
        }
        let expression = mapping["expr"]?.string?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if expression.isEmpty { problem(mapping["expr"] ?? node, location + ", field \"expr\"", "field \"expr\" must be set in rule") }
        // As promtool: the expression must parse and type-check, or the rule would fail at every evaluation.
        if !expression.isEmpty, let text = mapping["expr"]?.string {
            do throws(PromQLError) { _ = try PromQL.Parser.parse(text, syntax: syntax) } catch {
                problem(mapping["expr"], location, "could not parse expression: \(error)")
            }
        }
        let hold = mapping["for"].flatMap { duration($0, location + ", field \"for\"") } ?? .zero
        let keepFiring = mapping["keep_firing_for"].flatMap { duration($0, location + ", field \"keep_firing_for\"") } ?? .zero
        let ownLabels = stringMap(mapping["labels"], location + ", field \"labels\"", kind: "label")
        let ownNames = Set(ownLabels.map(\.name))
        let labels = groupLabels.filter { !ownNames.contains($0.name) } + ownLabels
        let annotations = stringMap(mapping["annotations"], location + ", field \"annotations\"", kind: "annotation")
        let rule = AlertRule(name: name, expression: expression, holdDuration: hold, keepFiringFor: keepFiring,
                             labels: labels, annotations: annotations, syntax: syntax, kind: kind)
        // A recording rule's labels are set as written, never expanded.
        for (name, template) in kind == .recording ? [] : rule.labelTemplates + rule.annotationTemplates {
            if case .failure(let error) = template {
                let node = mapping["labels"]?.mapping?[name] ?? mapping["annotations"]?.mapping?[name]
                problem(node, location + ", template \"\(name)\"", "\(error)")
            }
        }
        return expression.isEmpty ? nil : rule
    }

    /// A field written twice is refused, as Go's YAML refuses it.
    private mutating func repeatedKeys(_ mapping: Node.Mapping, _ location: String) {
        var seen: Set<String> = []
        for key in mapping.keys where !seen.insert(key.string ?? "").inserted {
            problem(key, location, "field \"\(key.string ?? "")\" is set twice (mapping key already defined)")
        }
    }

    private mutating func duration(_ node: Node, _ location: String) -> Duration? {
        guard let text = node.string, let value = PrometheusDuration.parse(text) else {
            problem(node, location, "not a valid duration string: \"\(node.string ?? "")\" (use e.g. 30s, 5m, 1h30m)")
            return nil
        }
        return value
    }

    private mutating func stringMap(_ node: Node?, _ location: String, kind: String) -> [(name: String, template: String)] {
        guard let node else { return [] }
        guard case .mapping(let mapping) = node else {
            problem(node, location, "must be a mapping of names to strings")
            return []
        }
        var result: [(name: String, template: String)] = []
        var seen: Set<String> = []
        for (key, value) in mapping {
            let name = key.string ?? ""
            // Go's YAML refuses a key set twice (and two values for one label could never both hold).
            guard seen.insert(name).inserted else {
                problem(key, location, "\(kind) \"\(name)\" is set twice (mapping key already defined)")
                continue
            }
            if kind == "label" ? !Self.isValidLabelName(name) : name.isEmpty {
                problem(key, location, "invalid \(kind) name: \"\(name)\"")
            }
            if kind == "label" && name == "__name__" { problem(key, location, "invalid label name: __name__ is reserved") }
            guard let text = value.string else {
                problem(value, location, "\(kind) \"\(name)\" must be a string")
                continue
            }
            result.append((name, text))
        }
        return result
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, Prometheus's metric names.
    static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == ":" || isValidLabelName(String(first)) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == ":" || isValidLabelName("a" + String($0)) }
    }

    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    private static func yamlProblem(_ error: YamlError, file: String) -> RuleFileError.Problem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .init(file: file, line: mark.line, column: mark.column, location: "", message: "YAML: \(problem)")
        default:
            return .init(file: file, location: "", message: "YAML: \(error)")
        }
    }
}
