/// A value inside template execution, with Go's printing and truthiness.
enum TemplateValue: Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case map([String: String])
    case record([String: TemplateValue])
    /// Go's invalid value: a missing map key. Printed as `<no value>`.
    case missing

    /// How Go's text/template prints the value.
    var printed: String {
        switch self {
        case .string(let text): return text
        case .number(let value): return GoFormat.float(value)
        case .bool(let value): return value ? "true" : "false"
        case .map(let map): return "map[" + map.keys.sorted().map { "\($0):\(map[$0]!)" }.joined(separator: " ") + "]"
        case .record: return "{…}"
        case .missing: return "<no value>"
        }
    }

    /// Go's truth: false, 0, "", an empty map and a missing value are false.
    var isTrue: Bool {
        switch self {
        case .string(let text): return !text.isEmpty
        case .number(let value): return value != 0
        case .bool(let value): return value
        case .map(let map): return !map.isEmpty
        case .record: return true
        case .missing: return false
        }
    }

    /// Go's `%T`-like name, for error messages.
    var typeName: String {
        switch self {
        case .string: return "string"
        case .number: return "float64"
        case .bool: return "bool"
        case .map: return "map[string]string"
        case .record: return "struct"
        case .missing: return "<nil>"
        }
    }
}

/// What an alert template sees, as Prometheus provides it.
public struct TemplateData: Sendable {
    public var labels: [String: String]
    public var externalLabels: [String: String]
    public var externalURL: String
    public var value: Double

    public init(labels: [String: String], externalLabels: [String: String] = [:], externalURL: String = "", value: Double) {
        self.labels = labels
        self.externalLabels = externalLabels
        self.externalURL = externalURL
        self.value = value
    }
}

extension Template {
    /// Runs the template. Errors carry Go-like text; callers turn them into Prometheus's
    /// `<error expanding template: …>`.
    public func execute(_ data: TemplateData) throws(TemplateError) -> String {
        let dot = TemplateValue.record([
            "Labels": .map(data.labels), "ExternalLabels": .map(data.externalLabels),
            "ExternalURL": .string(data.externalURL), "Value": .number(data.value),
        ])
        // Prometheus defines these four by prepending `{{$labels := .Labels}}…` to every template.
        var variables: [String: TemplateValue] = [
            "$": dot, "$labels": .map(data.labels), "$externalLabels": .map(data.externalLabels),
            "$externalURL": .string(data.externalURL), "$value": .number(data.value),
        ]
        var out = ""
        try run(nodes, dot: dot, variables: &variables, into: &out)
        return out
    }

    private func run(_ nodes: [Node], dot: TemplateValue, variables: inout [String: TemplateValue],
                     into out: inout String) throws(TemplateError) {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .action(let pipeline):
                out += try evaluate(pipeline, dot: dot, variables: variables).printed
            case .assign(let variable, let pipeline):
                variables[variable] = try evaluate(pipeline, dot: dot, variables: variables)
            case .conditional(let branches, let otherwise):
                var taken = false
                for branch in branches where try evaluate(branch.condition, dot: dot, variables: variables).isTrue {
                    try run(branch.body, dot: dot, variables: &variables, into: &out)
                    taken = true
                    break
                }
                if !taken { try run(otherwise, dot: dot, variables: &variables, into: &out) }
            }
        }
    }

    private func evaluate(_ pipeline: Pipeline, dot: TemplateValue, variables: [String: TemplateValue]) throws(TemplateError) -> TemplateValue {
        var previous: TemplateValue?
        for command in pipeline.commands {
            previous = try evaluate(command, piped: previous, dot: dot, variables: variables)
        }
        return previous ?? .missing
    }

    private func evaluate(_ command: Command, piped: TemplateValue?, dot: TemplateValue,
                          variables: [String: TemplateValue]) throws(TemplateError) -> TemplateValue {
        guard let first = command.arguments.first else { throw TemplateError("empty command") }
        if case .function(let name) = first {
            var arguments: [TemplateValue] = []
            for operand in command.arguments.dropFirst() {
                arguments.append(try value(of: operand, dot: dot, variables: variables))
            }
            if let piped { arguments.append(piped) }
            return try TemplateFunctions.call(name, arguments)
        }
        guard command.arguments.count == 1, piped == nil else {
            throw TemplateError("can't give argument to non-function \(describe(first))")
        }
        return try value(of: first, dot: dot, variables: variables)
    }

    private func value(of operand: Operand, dot: TemplateValue, variables: [String: TemplateValue]) throws(TemplateError) -> TemplateValue {
        switch operand {
        case .string(let text): return .string(text)
        case .number(let value): return .number(value)
        case .bool(let value): return .bool(value)
        case .pipeline(let pipeline): return try evaluate(pipeline, dot: dot, variables: variables)
        case .function(let name): return try TemplateFunctions.call(name, [])
        case .field(let base, let path):
            var current: TemplateValue
            switch base {
            case .dot: current = dot
            case .variable(let name):
                guard let bound = variables[name] else { throw TemplateError("undefined variable \"\(name)\"") }
                current = bound
            }
            for field in path {
                switch current {
                case .record(let fields):
                    guard let next = fields[field] else { throw TemplateError("can't evaluate field \(field)") }
                    current = next
                case .map(let map):
                    current = map[field].map(TemplateValue.string) ?? .missing
                case .missing:
                    throw TemplateError("nil pointer evaluating .\(field)")
                default:
                    throw TemplateError("can't evaluate field \(field) in type \(current.typeName)")
                }
            }
            return current
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
