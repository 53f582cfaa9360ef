import AlertEngine
import Foundation
import GoTemplate
import MetricModel
import PromQL
import Remediation
import Yams

extension RulePack {
    /// Parameter values by key, each checked and normalised for its kind.
    public struct Values: Sendable, Equatable {
        public private(set) var values: [String: String]
        let kinds: [String: Kind]
        let order: [String]

        /// Every key with its value, in the pack file's order.
        public var entries: [(key: String, value: String)] { order.map { ($0, values[$0] ?? "") } }

        public subscript(key: String) -> String? { values[key] }

        /// Sets one parameter from text, checking it against its kind.
        public mutating func set(_ key: String, to text: String) throws(PackError) {
            guard let kind = kinds[key] else {
                throw PackError("unknown parameter \"\(key)\"; known: " + order.joined(separator: ", "))
            }
            values[key] = try RulePack.normalise(text, kind: kind, key: key)
        }
    }

    public var defaults: Values {
        Values(values: Dictionary(uniqueKeysWithValues: parameters.map { ($0.key, $0.defaultValue) }),
               kinds: Dictionary(uniqueKeysWithValues: parameters.map { ($0.key, $0.kind) }), order: parameters.map(\.key))
    }

    /// The defaults with `settings` applied, each error naming its key.
    public func values(_ settings: [String: String]) throws(PackError) -> Values {
        var values = defaults
        for (key, text) in settings.sorted(by: { $0.key < $1.key }) { try values.set(key, to: text) }
        return values
    }

    /// Checks a value for its kind and gives the text that goes into the rules: numbers as
    /// PromQL reads them (500000000, 0.05), durations and names as given.
    static func normalise(_ text: String, kind: Kind, key: String) throws(PackError) -> String {
        switch kind {
        case .duration, .positiveDuration:
            guard let value = PrometheusDuration.parse(text), kind == .duration || value > .zero else {
                throw PackError("\(key): expected a Prometheus duration such as 30s, 5m or 1h\(kind == .positiveDuration ? " (more than 0)" : ""), got \(GoQuote.quote(text))")
            }
            return text
        case .share, .number:
            let maximum = kind == .share ? 1.0 : .infinity
            guard let value = Double(text), value.isFinite, value >= 0, value <= maximum else {
                throw PackError("\(key): expected \(kind == .share ? "a share between 0 and 1" : "a finite number, 0 or more"), got \(GoQuote.quote(text))")
            }
            return number(value)
        case .name:
            // Quoted into expressions; refused where it could end a template action or a line.
            guard !text.isEmpty, text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) && $0.value != 0x2028 && $0.value != 0x2029 }),
                  !text.contains("{{"), !text.contains("}}"), !text.contains("${") else {
                throw PackError("\(key): expected a non-empty name without control characters, {{, }} or ${, got \(GoQuote.quote(text))")
            }
            return text
        case .label:
            guard Self.isLabelName(text) else {
                throw PackError("\(key): expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), got \(GoQuote.quote(text))")
            }
            return text
        }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, checked by scalar (a regular expression's `$` would let a final newline through).
    static func isLabelName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    /// Numbers in expressions read as written: 500000000, not 5e+08.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : GoFormat.float(value)
    }

    /// Where a placeholder stands: in PromQL a name must be quoted.
    enum Field { case expression, text }

    /// Replaces `${key}` and `${key|filter}`; fragments expand in turn. Filters: `quote` (a
    /// PromQL/Go string literal), `percent` (a share × 100), `days_as_seconds`.
    func expand(_ text: String, _ values: Values, field: Field, depth: Int = 0) throws(PackError) -> String {
        guard text.contains("${") else { return text }
        guard depth < 8 else { throw PackError("fragments nest more than 8 deep") }
        guard text.utf8.count <= Self.maxExpansion else { throw PackError("expands to more than \(Self.maxExpansion / 1024) KiB") }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw PackError("unclosed ${ in \(GoQuote.quote(text))")
            }
            let inner = rest[open.upperBound..<close]
            rest = rest[rest.index(after: close)...]
            let parts = inner.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let filter = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
            if let fragment = fragments.first(where: { $0.name == key }) {
                guard filter == nil else { throw PackError("${\(inner)}: a fragment takes no filter") }
                out += try expand(fragment.text, values, field: field, depth: depth + 1)
                guard out.utf8.count <= Self.maxExpansion else { throw PackError("expands to more than \(Self.maxExpansion / 1024) KiB") }
                continue
            }
            guard let parameter = parameters.first(where: { $0.key == key }), let value = values[key] else {
                throw PackError("${\(inner)}: no parameter or fragment \"\(key)\"")
            }
            switch filter {
            case nil:
                if parameter.kind == .name && field == .expression {
                    throw PackError("${\(key)}: a name goes into an expression quoted: ${\(key)|quote}")
                }
                out += value
            case "quote":
                out += GoQuote.quote(value)
            case "percent":
                guard parameter.kind == .share, let share = Double(value) else { throw PackError("${\(inner)}: percent takes a share") }
                // 0.05 × 100 is 5.000000000000001 in binary floating point: round for the text.
                out += GoFormat.float((share * 100 * 1e9).rounded() / 1e9)
            case "days_as_seconds":
                guard parameter.kind == .number, let days = Double(value) else { throw PackError("${\(inner)}: days_as_seconds takes a number") }
                out += Self.number(days * 86400)
            case let other?:
                throw PackError("${\(inner)}: unknown filter \"\(other)\" (known: quote, percent, days_as_seconds)")
            }
        }
        out += rest
        guard out.utf8.count <= Self.maxExpansion else { throw PackError("expands to more than \(Self.maxExpansion / 1024) KiB") }
        return out
    }

    /// The most text one field may expand to: fragments that multiply stop here, not in memory.
    static let maxExpansion = 256 * 1024

    /// One alert rule with the parameters in place.
    public struct Definition: Sendable {
        public var name: String
        public var expression: String
        public var holdDuration: String
        public var severity: String
        public var summary: String
        public var description: String
        /// `mesh`, `runbook`, `severity` and the rule's own, sorted by name.
        public var labels: [(name: String, template: String)]

        public var annotations: [(name: String, template: String)] {
            [("description", description), ("summary", summary)]
        }

        public var rule: AlertRule {
            AlertRule(name: name, expression: expression, holdDuration: PrometheusDuration.parse(holdDuration) ?? .zero,
                      labels: labels, annotations: annotations)
        }
    }

    /// The pack with these values: its rules, its group and its runbooks.
    public struct Expanded: Sendable {
        public let pack: RulePack
        public let values: Values
        public let definitions: [Definition]
        public let runbooks: [Runbook]

        /// The pack as a rule group for the engine; its rules may remediate (step 8's opt-in).
        public var group: RuleGroup {
            var group = RuleGroup(name: pack.groupName, interval: values["interval"].flatMap(PrometheusDuration.parse),
                                  rules: definitions.map(\.rule), file: pack.file)
            group.builtIn = true
            return group
        }
    }

    /// Expands every rule and runbook, checking each expression, duration and template.
    public func expanded(with values: Values) throws(PackError) -> Expanded {
        var definitions: [Definition] = []
        for rule in rules {
            func at(_ what: String) -> String { "\(file):\(rule.line): \(rule.alert).\(what)" }
            func field(_ text: String, _ what: String, _ kind: Field) throws(PackError) -> String {
                do { return try expand(text, values, field: kind) } catch { throw PackError("\(at(what)): \(error)") }
            }
            let expression = try field(rule.expression, "expr", .expression)
            do { _ = try Parser.parse(expression) } catch { throw PackError("\(at("expr")): \(error)") }
            let hold = try field(rule.holdDuration, "for", .text)
            guard PrometheusDuration.parse(hold) != nil else { throw PackError("\(at("for")): not a duration: \(GoQuote.quote(hold))") }
            var labels = [("mesh", mesh), ("runbook", rule.alert), ("severity", rule.severity)]
            for label in rule.labels { labels.append((label.name, try field(label.value, "labels.\(label.name)", .text))) }
            let definition = Definition(name: rule.alert, expression: expression, holdDuration: hold, severity: rule.severity,
                                        summary: try field(rule.summary, "summary", .text),
                                        description: try field(rule.description, "description", .text),
                                        labels: labels.sorted { $0.0 < $1.0 })
            for (name, template) in definition.annotations + definition.labels {
                do { _ = try Template(template, name: "__alert_" + rule.alert, prefixBytes: Template.alertPrefixBytes) } catch {
                    throw PackError("\(at(name)): \(error)")
                }
            }
            definitions.append(definition)
        }
        var runbooks: [Runbook] = []
        for source in self.runbooks {
            do {
                guard let node = try Yams.compose(yaml: source.text, .basic) else { continue }
                let text = try Yams.serialize(node: try expandScalars(node, values, line: source.line))
                let runbook = try YAMLDecoder().decode(Runbook.self, from: text)
                // The configuration's checks for runbooks; exec steps meet the configuration's allow-list when they run.
                if let problem = runbook.problems(execAllow: nil).first {
                    throw PackError("\(file):\(source.line): runbook \(runbook.alert).\(problem.keyPath): \(problem.message)")
                }
                runbooks.append(runbook)
            } catch let error as PackError {
                throw error
            } catch let error as DecodingError {
                throw PackError("\(file):\(source.line): runbook: \(Self.describe(error))")
            } catch {
                throw PackError("\(file):\(source.line): runbook: \(error)")
            }
        }
        return Expanded(pack: self, values: values, definitions: definitions, runbooks: runbooks)
    }

    /// A decoding error as a key path and what was wrong: `steps[0].kind: Cannot initialize …`.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .replacingOccurrences(of: ".[", with: "[").trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        @unknown default:
            return "\(error)"
        }
    }

    /// A runbook node with the placeholders of every scalar replaced; a step's `query` is PromQL.
    private func expandScalars(_ node: Node, _ values: Values, line: Int, key: String? = nil) throws(PackError) -> Node {
        switch node {
        case .scalar(var scalar):
            do { scalar.string = try expand(scalar.string, values, field: key == "query" ? .expression : .text) } catch {
                throw PackError("\(file):\(line): runbook \(key ?? "value"): \(error)")
            }
            return .scalar(scalar)
        case .mapping(var mapping):
            for (k, v) in mapping { mapping[k] = try expandScalars(v, values, line: line, key: k.scalar?.string) }
            return .mapping(mapping)
        case .sequence(var sequence):
            for index in sequence.indices { sequence[index] = try expandScalars(sequence[index], values, line: line, key: key) }
            return .sequence(sequence)
        }
    }
}
