import MetricModel

/// Most alert templates are text with `{{ $labels.x }}`, `{{ $value }}` and `{{ $value |
/// humanize }}` in it, run for every series at every evaluation. Such a template is compiled to
/// segments that run without the executor's scope and values; anything else (and any error,
/// whose text the executor words) goes through the executor.
enum SimpleSegment: Sendable {
    case text(String)
    /// `$labels.x`, `.Labels.x` (`""` when missing), or `$externalLabels.x`, `.ExternalLabels.x`.
    case label(String, external: Bool)
    /// `$value` or `.Value`.
    case value
    /// A label or the value piped into one function of one argument.
    indirect case through(SimpleSegment, TemplateFunction)

    /// The functions a segment may pipe into: one argument, a string out, no other state.
    static let functions: Set<TemplateFunction> = [
        .humanize, .humanize1024, .humanizeDuration, .humanizePercentage, .humanizeTimestamp, .toUpper, .toLower, .title,
    ]

    /// The segments of `nodes`, or nil when they are not all text and simple actions.
    static func compile(_ nodes: [Template.Node], defined: [String: [Template.Node]]) -> [SimpleSegment]? {
        guard defined.isEmpty else { return nil }
        var segments: [SimpleSegment] = []
        for node in nodes {
            switch node {
            case .text(let text): segments.append(.text(text))
            case .action(let pipeline):
                guard let segment = compile(pipeline) else { return nil }
                segments.append(segment)
            default: return nil
            }
        }
        return segments
    }

    private static func compile(_ pipeline: Template.Pipeline) -> SimpleSegment? {
        guard let first = pipeline.commands.first, first.arguments.count == 1, pipeline.commands.count <= 2,
              case .field(let base, let path, _) = first.arguments[0] else { return nil }
        var segment: SimpleSegment
        switch (base, path.count) {
        case (.variable("$value"), 0): segment = .value
        case (.variable("$labels"), 1): segment = .label(path[0], external: false)
        case (.variable("$externalLabels"), 1): segment = .label(path[0], external: true)
        case (.dot, 1) where path[0] == "Value": segment = .value
        case (.dot, 2) where path[0] == "Labels": segment = .label(path[1], external: false)
        case (.dot, 2) where path[0] == "ExternalLabels": segment = .label(path[1], external: true)
        default: return nil
        }
        if pipeline.commands.count == 2 {
            let second = pipeline.commands[1]
            guard second.arguments.count == 1, case .function(let function, _) = second.arguments[0],
                  functions.contains(function) else { return nil }
            segment = .through(segment, function)
        }
        return segment
    }

    /// Appends the segment's text; nil when it fails (the executor then words the error).
    func append(_ data: TemplateData, to out: inout String) -> Bool {
        switch self {
        case .text(let text): out += text
        case .label(let name, let external): out += (external ? data.externalLabels : data.labels)[name] ?? ""
        case .value: out += GoFormat.float(data.value)
        case .through(let inner, let function):
            let argument: TemplateValue
            switch inner {
            case .value: argument = .number(data.value)
            case .label(let name, let external): argument = .string((external ? data.externalLabels : data.labels)[name] ?? "")
            default: return false
            }
            guard let result = try? TemplateFunctions.call(function, [argument]) else { return false }
            out += result.printed
        }
        return true
    }
}
