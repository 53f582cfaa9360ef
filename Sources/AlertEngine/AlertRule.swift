import GoTemplate
import MetricModel
import PromQL

/// Whether a rule alerts or records a series.
public enum RuleKind: String, Sendable, Codable {
    case alerting, recording
}

/// One rule as a rule file defines it: an alerting rule with its templates parsed, or a
/// recording rule (`kind == .recording`: `name` is the series it records, its labels are set
/// as written, not templated, and it has no `for`, `keep_firing_for` or annotations).
public struct AlertRule: Sendable {
    public var name: String
    public let kind: RuleKind
    public var expression: String {
        didSet { query = Self.normalised(expression, syntax) }
    }
    /// The PromQL the expression is read as (Prometheus 2.42's unless configured otherwise).
    public let syntax: Syntax
    /// The expression as Prometheus prints it (normalised): what `/api/v1/rules` shows and what
    /// is sent to Prometheus, as Prometheus's rule manager sends `String()` of the parsed
    /// expression (it is not always the text as written: `absent()` takes its labels from the
    /// matchers in printed order). The text as written when it does not parse.
    public private(set) var query: String

    static func normalised(_ expression: String, _ syntax: Syntax) -> String {
        (try? PromQL.Parser.parse(expression, syntax: syntax))?.description ?? expression
    }
    /// `for`: how long an instance stays pending before it fires.
    public var holdDuration: Duration
    public var keepFiringFor: Duration
    /// Label templates, sorted by name.
    public var labels: [(name: String, template: String)]
    public var annotations: [(name: String, template: String)]

    /// Whether a template may call `query` (its answers are fetched before the templates run).
    let usesTemplateQueries: Bool
    let labelTemplates: [(name: String, template: Result<Template, TemplateError>)]
    let annotationTemplates: [(name: String, template: Result<Template, TemplateError>)]

    public init(name: String, expression: String, holdDuration: Duration = .zero, keepFiringFor: Duration = .zero,
                labels: [(name: String, template: String)] = [], annotations: [(name: String, template: String)] = [],
                syntax: Syntax = .prometheus2, kind: RuleKind = .alerting) {
        self.name = name
        self.kind = kind
        self.expression = expression
        self.syntax = syntax
        query = Self.normalised(expression, syntax)
        self.holdDuration = holdDuration
        self.keepFiringFor = keepFiringFor
        self.labels = labels.sorted { $0.name < $1.name }
        self.annotations = annotations.sorted { $0.name < $1.name }
        // Prometheus names alert templates `__alert_<name>`; errors quote that name.
        let templateName = "__alert_" + name
        func parse(_ source: String) -> Result<Template, TemplateError> {
            do throws(TemplateError) {
                return .success(try Template(source, name: templateName, prefixBytes: Template.alertPrefixBytes))
            } catch { return .failure(error) }
        }
        usesTemplateQueries = kind == .alerting && (labels + annotations).contains { $0.template.contains("query") }
        labelTemplates = self.labels.map { ($0.name, parse($0.template)) }
        annotationTemplates = self.annotations.map { ($0.name, parse($0.template)) }
        identity = nameAndLabels
    }

    /// A stable identity for carrying state across reloads and restarts, as Prometheus's
    /// `CopyState` does: the rule's name and labels. Edits to the expression, `for`,
    /// `keep_firing_for` or annotations keep the rule's instances; a label edit makes a new
    /// rule. A group numbers rules that share name and labels in file order (`#1`, `#2`…).
    public internal(set) var identity: String = ""

    /// The identity before a group numbers duplicates.
    var nameAndLabels: String {
        let labelText = labels.map { "\($0.name)=\($0.template)" }.joined(separator: ",")
        var hash = Labels.fingerprintSeed
        for part in [kind == .recording ? "record:" + name : name, labelText] {
            var text = part
            text.withUTF8 { hash = Labels.mixFingerprint(hash, $0) }
        }
        return "\(name)/\(String(hash, radix: 16))"
    }
}

/// A group of rules evaluated together on one interval, as in a rule file.
public struct RuleGroup: Sendable {
    public var name: String
    /// nil uses the global evaluation interval.
    public var interval: Duration?
    /// At most this many alert instances per rule (0: no limit); past it the rule fails.
    public var limit: Int
    /// The group's `query_offset`: its queries ask for this long before the evaluation time
    /// (nil: the global `rule_query_offset`).
    public var queryOffset: Duration?
    public var rules: [AlertRule] {
        didSet { Self.numberDuplicates(&rules) }
    }
    /// Where the group was read from, for messages.
    public var file: String
    /// A group of a built-in pack (its rules may remediate); never true for a file's group,
    /// whatever the file is called.
    public var builtIn = false

    public init(name: String, interval: Duration? = nil, limit: Int = 0, queryOffset: Duration? = nil, rules: [AlertRule],
                file: String = "") {
        self.name = name
        self.interval = interval
        self.limit = limit
        self.queryOffset = queryOffset
        var rules = rules
        Self.numberDuplicates(&rules)
        self.rules = rules
        self.file = file
    }

    /// Rules with the same name and labels get `#1`, `#2`… in file order, so each keeps its
    /// own state (Prometheus pairs such rules up in order too).
    static func numberDuplicates(_ rules: inout [AlertRule]) {
        var seen: [String: Int] = [:]
        for index in rules.indices {
            let base = rules[index].nameAndLabels
            let count = seen[base, default: 0]
            seen[base] = count + 1
            let identity = count == 0 ? base : base + "#\(count)"
            if rules[index].identity != identity { rules[index].identity = identity }
        }
    }
}
