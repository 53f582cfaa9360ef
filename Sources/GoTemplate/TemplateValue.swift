import MetricModel
import PromQL

/// A value inside template execution, with Go's printing and truthiness.
public enum TemplateValue: Sendable {
    case string(String)
    case number(Double)
    /// Go's `int`: integer constants and `len`.
    case integer(Int64)
    case bool(Bool)
    case map(Labels)
    case record([String: TemplateValue])
    /// A `map[string]interface{}` (what `args` returns): a missing key is Go's nil, `<no value>`.
    case interfaceMap([String: TemplateValue])
    /// Go's nil interface value, printed `<no value>`.
    case noValue
    /// A missing map key. Prometheus executes templates with `missingkey=zero`, so it prints
    /// as the empty string (not Go's default `<no value>`).
    case missing
    /// One sample of a `query` answer (Prometheus's `*template.sample`: `.Labels`, `.Value`).
    /// Boxed, so that every other value stays as small as it was (values are copied a lot).
    indirect case sample(QuerySample)
    /// A `query` answer (Prometheus's `template.queryResult`, a slice of samples).
    case samples([QuerySample])

    /// How Go's text/template prints the value.
    var printed: String {
        switch self {
        case .string(let text): return text
        case .number(let value): return GoFormat.float(value)
        case .integer(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .map(let map): return "map[" + map.map { "\($0.name):\($0.value)" }.joined(separator: " ") + "]"
        case .record(let fields), .interfaceMap(let fields):
            return "map[" + fields.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.printed)" }.joined(separator: " ") + "]"
        case .noValue: return "<no value>"
        case .missing: return ""
        // text/template prints what a pointer points to.
        case .sample(let sample): return "{" + TemplateValue.map(sample.labels).printed + " " + GoFormat.float(sample.value) + "}"
        // Go prints the pointers of a slice of pointers; their addresses mean nothing, so these are made up.
        case .samples(let samples): return "[" + samples.indices.map { "0xc0000\(String(0x1000 + $0 * 0x30, radix: 16))" }.joined(separator: " ") + "]"
        }
    }

    /// Go's truth: false, 0, "", an empty map and a missing value are false.
    var isTrue: Bool {
        switch self {
        case .string(let text): return !text.isEmpty
        case .number(let value): return value != 0
        case .integer(let value): return value != 0
        case .bool(let value): return value
        case .map(let map): return !map.isEmpty
        case .record: return true
        case .interfaceMap(let fields): return !fields.isEmpty
        case .noValue: return false
        case .missing: return false
        case .sample: return true
        case .samples(let samples): return !samples.isEmpty
        }
    }

    /// Go's `%T`-like name, for error messages.
    var typeName: String {
        switch self {
        case .string: return "string"
        case .number: return "float64"
        case .integer: return "int"
        case .bool: return "bool"
        case .map: return "map[string]string"
        case .record: return "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }"
        case .interfaceMap: return "map[string]interface {}"
        case .noValue: return "<nil>"
        case .missing: return "<nil>"
        case .sample: return "*template.sample"
        case .samples: return "template.queryResult"
        }
    }
}

extension Template {
    /// Runs the template. Errors carry Go-like text; callers turn them into Prometheus's
    /// `<error expanding template: …>`.
    public func execute(_ data: TemplateData) throws(TemplateError) -> String {
        // Most label templates are plain text: nothing to run.
        if nodes.count == 1, case .text(let text) = nodes[0] { return text }
        if let simple {
            var out = ""
            out.reserveCapacity(source.utf8.count + 32)
            if simple.allSatisfy({ $0.append(data, to: &out) }) { return out }
        }
        return try executeInExecutor(data)
    }

    /// Runs the template in the general executor (what `execute` does when the template is not simple).
    func executeInExecutor(_ data: TemplateData) throws(TemplateError) -> String {
        var scope = Scope(data: data)
        var out = ""
        out.reserveCapacity(source.utf8.count + 32)
        try run(nodes, scope: &scope, into: &out)
        return out
    }

    /// How a list of nodes ended: at its end, or at a `break`/`continue` for the enclosing range.
    enum Flow { case normal, breakLoop, continueLoop }

    @discardableResult
    private func run(_ nodes: [Node], scope: inout Scope, into out: inout String) throws(TemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .action(let pipeline):
                out += try evaluate(pipeline, scope: scope).printed
            case .assign(let variable, let pipeline, let declares):
                let value = try evaluate(pipeline, scope: scope)
                if !declares, let index = scope.variables.lastIndex(where: { $0.name == variable }) {
                    scope.variables[index].value = value
                } else {
                    scope.variables.append((variable, value))
                }
            case .conditional(let branches, let otherwise):
                var taken: [Node]?
                // Variables declared in the conditions live until the {{end}}.
                let mark = scope.variables.count
                for branch in branches {
                    let value = try evaluate(branch.condition, scope: scope)
                    if let variable = branch.variable {
                        if !branch.declares, let index = scope.variables.lastIndex(where: { $0.name == variable }) {
                            scope.variables[index].value = value
                        } else {
                            scope.variables.append((variable, value))
                        }
                    }
                    if value.isTrue {
                        taken = branch.body
                        break
                    }
                }
                let flow = try block(taken ?? otherwise, scope: &scope, into: &out)
                scope.variables.removeSubrange(mark...)
                if flow != .normal { return flow }
            case .with(let variable, let declares, let pipeline, let body, let otherwise):
                let value = try evaluate(pipeline, scope: scope)
                let flow: Flow
                var declared = variable.map { [($0, value)] } ?? []
                if !declares, let variable, let index = scope.variables.lastIndex(where: { $0.name == variable }) {
                    scope.variables[index].value = value  // `with $x = p`: the outer $x is set
                    declared = []
                }
                // Go sets the declared variable to the pipeline's value for both branches.
                if value.isTrue {
                    flow = try block(body, scope: &scope, into: &out, dot: value, variables: declared)
                } else {
                    flow = try block(otherwise, scope: &scope, into: &out, variables: declared)
                }
                if flow != .normal { return flow }
            case .range(let key, let valueName, let pipeline, let body, let otherwise):
                let collection = try evaluate(pipeline, scope: scope)
                let elements: [(key: TemplateValue, value: TemplateValue)]
                switch collection {
                case .map(let map): elements = map.map { (.string($0.name), .string($0.value)) }  // Go ranges a map in key order
                case .interfaceMap(let fields): elements = fields.sorted { $0.key < $1.key }.map { (.string($0.key), $0.value) }
                case .samples(let samples): elements = samples.enumerated().map { (.integer(Int64($0.offset)), .sample($0.element)) }
                case .noValue: elements = []
                default: throw TemplateError(pipelineLocation(pipeline) + "range can't iterate over \(collection.printed)")
                }
                if elements.isEmpty {
                    // Go declares the range's variables with the collection itself; the else sees that.
                    let declared = [key, valueName].compactMap { $0 }.map { ($0, collection) }
                    let flow = try block(otherwise, scope: &scope, into: &out, variables: declared)
                    if flow != .normal { return flow }
                    continue
                }
                for element in elements {
                    var variables: [(String, TemplateValue)] = []
                    if let key { variables.append((key, element.key)) }
                    if let valueName { variables.append((valueName, element.value)) }
                    if try block(body, scope: &scope, into: &out, dot: element.value, variables: variables) == .breakLoop { break }
                }
            case .loopControl(let breaks):
                return breaks ? .breakLoop : .continueLoop
            case .invoke(let templateName, let pipeline):
                guard let body = defined[templateName] else {
                    throw TemplateError("template: \(name): no such template \"\(templateName)\"")
                }
                // Go allows 100,000 nested calls; each costs stack here, so a template that calls itself
                // stops at 100 (Go's message), never the process.
                guard scope.depth < Self.maximumDepth else { throw TemplateError("template: \(name): exceeded maximum template depth (100000)") }
                // A called template starts with its own variables: `$` and dot are the value passed.
                var inner = Scope(data: scope.data)
                var dot = TemplateValue.noValue  // no pipeline: Go's nil
                if let pipeline { dot = try evaluate(pipeline, scope: scope) }
                inner.dotValue = dot
                inner.rootOverride = dot
                inner.depth = scope.depth + 1
                try run(body, scope: &inner, into: &out)
            }
        }
        return .normal
    }

    /// Runs a nested block: its own dot (when given) and variables, which end with it; an
    /// assignment to a variable declared outside stays, as in Go.
    /// Blocks and `{{template}}` calls running inside each other at most (Go allows 100,000
    /// calls; each level costs stack here, so a template that recurses stops with Go's message).
    static let maximumDepth = 200

    private func block(_ nodes: [Node], scope: inout Scope, into out: inout String, dot: TemplateValue? = nil,
                       variables: [(String, TemplateValue)] = []) throws(TemplateError) -> Flow {
        guard scope.depth < Self.maximumDepth else { throw TemplateError("template: \(name): exceeded maximum template depth (100000)") }
        scope.depth += 1
        defer { scope.depth -= 1 }
        let mark = scope.variables.count
        let outerDot = scope.dotValue
        if let dot { scope.dotValue = dot }
        for (name, value) in variables { scope.variables.append((name, value)) }
        defer {
            scope.dotValue = outerDot
            scope.variables.removeSubrange(mark...)
        }
        return try run(nodes, scope: &scope, into: &out)
    }

    private func evaluate(_ pipeline: Pipeline, scope: Scope) throws(TemplateError) -> TemplateValue {
        var previous: TemplateValue?
        for command in pipeline.commands {
            previous = try evaluate(command, piped: previous, scope: scope)
        }
        return previous ?? .missing
    }

    private func evaluate(_ command: Command, piped: TemplateValue?, scope: Scope) throws(TemplateError) -> TemplateValue {
        guard let first = command.arguments.first else { throw TemplateError("empty command") }
        if case .function(let name, _) = first, name == .and || name == .or, command.arguments.count + (piped == nil ? 0 : 1) > 1 {
            // Go evaluates `and`/`or` lazily, left to right, stopping once the result is known:
            // `and 0 (humanize "x")` is 0, not an error.
            var last = TemplateValue.noValue
            for operand in command.arguments.dropFirst() {
                last = try value(of: operand, scope: scope)
                if last.isTrue != (name == .and) { return last }
            }
            if let piped { last = piped }
            return last
        }
        if case .function(let name, let offset) = first {
            var arguments: [TemplateValue] = []
            arguments.reserveCapacity(command.arguments.count)
            for operand in command.arguments.dropFirst() {
                arguments.append(try value(of: operand, scope: scope))
            }
            if let piped { arguments.append(piped) }
            do {
                return try TemplateFunctions.call(name, arguments, externalURL: scope.data.externalURL, query: scope.data.query)
            } catch {
                if error.pendingQuery != nil { throw error }
                // A field or variable of the wrong type: Go reports it where the argument stands.
                if let index = error.argument, index + 1 < command.arguments.count,
                   case .field(_, _, let argumentOffset) = command.arguments[index + 1] {
                    throw TemplateError(location(ofByte: argumentOffset, context: Self.text(of: command.arguments[index + 1])) + error.description)
                }
                // Go's text: where the call stands, then the function's error.
                throw TemplateError(location(ofByte: offset, context: Self.text(of: command)) + error.description)
            }
        }
        guard command.arguments.count == 1, piped == nil else {
            throw TemplateError("can't give argument to non-function \(describe(first))")
        }
        return try value(of: first, scope: scope)
    }

    private func value(of operand: Operand, scope: Scope) throws(TemplateError) -> TemplateValue {
        switch operand {
        case .string(let text): return .string(text)
        case .number(let value): return .number(value)
        case .integer(let value): return .integer(value)
        case .bool(let value): return .bool(value)
        case .nilLiteral: return .noValue
        case .pipeline(let pipeline): return try evaluate(pipeline, scope: scope)
        case .function(let name, let offset):
            do { return try TemplateFunctions.call(name, [], externalURL: scope.data.externalURL, query: scope.data.query) } catch {
                if error.pendingQuery != nil { throw error }
                throw TemplateError(location(ofByte: offset, context: name.rawValue) + error.description)
            }
        case .field(let base, let path, let offset):
            var current: TemplateValue
            var remaining = path[...]
            switch base {
            case .dot:
                if let first = remaining.first, let field = scope.dotField(first) {
                    current = field
                    remaining = remaining.dropFirst()
                } else {
                    current = scope.dot
                }
            case .variable(let name):
                guard let bound = scope.variable(name) else { throw TemplateError("undefined variable \"\(name)\"") }
                current = bound
            case .value(let pipeline):
                current = try evaluate(pipeline, scope: scope)
            }
            for field in remaining {
                switch current {
                case .record(let fields):
                    guard let next = fields[field] else {
                        throw TemplateError(location(ofByte: offset, context: Self.text(of: operand)) + "can't evaluate field \(field) in type \(current.typeName)")
                    }
                    current = next
                case .map(let map):
                    current = .string(map[field] ?? "")  // missingkey=zero: a missing label is "", a string
                case .interfaceMap(let fields):
                    current = fields[field] ?? .noValue
                case .sample(let sample) where field == "Labels":
                    current = .map(sample.labels)
                case .sample(let sample) where field == "Value":
                    current = .number(sample.value)
                case .missing:
                    // A missing label is "" (missingkey=zero): a field of it is a field of a string.
                    throw TemplateError(location(ofByte: offset, context: Self.text(of: operand)) + "can't evaluate field \(field) in type string")
                case .noValue:
                    throw TemplateError(location(ofByte: offset, context: Self.text(of: operand)) + "nil pointer evaluating interface {}.\(field)")
                default:
                    throw TemplateError(location(ofByte: offset, context: Self.text(of: operand)) + "can't evaluate field \(field) in type \(current.typeName)")
                }
            }
            return current
        }
    }

    /// Where Go's errors about a pipeline's value point: its last command's last operand
    /// when that is a field chain or variable, else the command.
    func pipelineLocation(_ pipeline: Pipeline) -> String {
        guard let command = pipeline.commands.last, let operand = command.arguments.last else { return "" }
        switch operand {
        case .field(_, _, let offset) where command.arguments.count == 1: return location(ofByte: offset, context: Self.text(of: operand))
        case .function(_, let offset): return location(ofByte: offset, context: Self.text(of: command))
        default:
            if case .function(_, let offset) = command.arguments[0] { return location(ofByte: offset, context: Self.text(of: command)) }
            return ""
        }
    }

    /// A command as Go's parse tree prints it (`humanize $labels.job`, `printf "%s" .Value`),
    /// for the `at <…>` of an error.
    static func text(of command: Command) -> String { command.arguments.map(text(of:)).joined(separator: " ") }

    static func text(of operand: Operand) -> String {
        switch operand {
        case .function(let function, _): return function.rawValue
        case .string(let text): return GoQuote.quote(text)
        case .number(let value): return GoFormat.float(value)
        case .integer(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .nilLiteral: return "nil"
        case .pipeline(let pipeline): return "(" + pipeline.commands.map(text(of:)).joined(separator: " | ") + ")"
        case .field(let base, let path, _):
            let fields = path.map { "." + $0 }.joined()
            switch base {
            case .dot: return fields.isEmpty ? "." : fields
            case .variable(let name): return name + fields
            case .value(let pipeline): return text(of: .pipeline(pipeline)) + fields
            }
        }
    }

    private func describe(_ operand: Operand) -> String {
        switch operand {
        case .string(let text): return "\"\(text)\""
        case .number(let value): return GoFormat.float(value)
        default: return "value"
        }
    }
}
