/// A parsed Go `text/template`, the subset Prometheus rule files use: text, `{{ pipeline }}`
/// actions with `{{-`/`-}}` trimming, comments, variables (`$x := …`), fields (`.Labels.x`,
/// `$labels.x`), literals, parenthesised pipelines, `|` pipes, `if`/`else if`/`else`/`end`,
/// `with`/`else` and `range`/`else` with `break` and `continue`.
public struct Template: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case action(Pipeline)
        /// `$x := p` (declares a variable in the current block) or `$x = p` (sets the nearest one).
        case assign(variable: String, pipeline: Pipeline, declares: Bool)
        /// `{{if [$x :=] p}}…{{else if [$y :=] q}}…{{else}}…{{end}}`: a variable declared in a
        /// condition reaches the `{{end}}` (later conditions, their bodies and the else too).
        /// (`$x = p` sets the nearest `$x` instead of declaring one.)
        case conditional(branches: [(condition: Pipeline, variable: String?, declares: Bool, body: [Node])], otherwise: [Node])
        /// `{{with [$x :=] p}}…{{else}}…{{end}}`: the body with dot set to p's value when it is true.
        case with(variable: String?, declares: Bool, pipeline: Pipeline, body: [Node], otherwise: [Node])
        /// `{{range [[$k, ]$v :=] p}}…{{else}}…{{end}}`: the body once per element, dot the element.
        case range(key: String?, value: String?, pipeline: Pipeline, body: [Node], otherwise: [Node])
        /// `{{break}}` or `{{continue}}` inside a range.
        case loopControl(breaks: Bool)
        /// `{{template "name" [pipeline]}}` (and the call half of `{{block}}`).
        case invoke(name: String, pipeline: Pipeline?)
    }

    struct Pipeline: Sendable {
        var commands: [Command]
    }

    struct Command: Sendable {
        var arguments: [Operand]
    }

    indirect enum Operand: Sendable {
        /// A function and where its name stands in the source, in UTF-8 bytes.
        case function(TemplateFunction, offset: Int)
        /// A field chain and where Go positions it (its second link, or the term itself), in UTF-8 bytes.
        case field(base: FieldBase, path: [String], offset: Int)
        case string(String)
        case number(Double)
        case integer(Int64)
        case bool(Bool)
        /// `nil`, which Go allows as a function's argument only.
        case nilLiteral
        case pipeline(Pipeline)
    }

    indirect enum FieldBase: Sendable {
        case dot
        case variable(String)
        /// A parenthesised pipeline with fields after it: `(index (query "up") 0).Labels` (Go's chain node).
        case value(Pipeline)
    }

    let nodes: [Node]
    /// Templates the source defines with `{{define}}` or `{{block}}`, by name.
    let defined: [String: [Node]]
    public let source: String
    /// The template's name, as Go's errors give it (`__alert_X` for an alert's).
    public let name: String
    /// Bytes of text before `source` in the text Go parses: Prometheus prepends its variable
    /// definitions to alert templates, which shifts the columns its errors give.
    let prefixBytes: Int

    /// What Prometheus puts before every alert template (`$labels`, `$externalLabels`, `$externalURL`, `$value`).
    public static let alertPrefixBytes = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}".utf8.count

    /// Parses `source`; `name` appears in error messages, as Go's template name does.
    public init(_ source: String, name: String = "template", prefixBytes: Int = 0) throws(TemplateError) {
        self.source = source
        self.name = name
        self.prefixBytes = prefixBytes
        var parser = TemplateParser(source: source, name: name)
        nodes = try parser.parseDocument()
        defined = parser.defined
        simple = SimpleSegment.compile(nodes, defined: defined)
    }

    /// The template as simple segments, when it is only text and simple actions.
    let simple: [SimpleSegment]?

    /// Go's `template: NAME:LINE:COL: executing "NAME" at <CONTEXT>: ` for a node at `offset`.
    func location(ofByte offset: Int, context: String) -> String {
        let before = source.utf8.prefix(offset)
        let newlines = before.filter { $0 == UInt8(ascii: "\n") }.count
        let column: Int
        if let last = before.lastIndex(of: UInt8(ascii: "\n")) {
            column = before.distance(from: before.index(after: last), to: before.endIndex)
        } else {
            column = prefixBytes + offset
        }
        return "template: \(name):\(newlines + 1):\(column): executing \"\(name)\" at <\(context)>: "
    }
}

/// A template that does not parse or cannot be executed.
public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// Set when the template called `query` with an expression whose answer is not known yet:
    /// the caller runs the query (asynchronously), remembers its answer and executes again.
    public let pendingQuery: String?
    /// For an argument of the wrong type: which argument (Go reports the error where it stands).
    let argument: Int?

    public init(_ description: String) {
        self.description = description
        pendingQuery = nil
        argument = nil
    }

    init(_ description: String, argument: Int) {
        self.description = description
        pendingQuery = nil
        self.argument = argument
    }

    public init(pendingQuery expression: String) {
        description = "query \(expression) not run yet"
        pendingQuery = expression
        argument = nil
    }
}
