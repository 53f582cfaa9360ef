import MetricModel

extension Template {
    /// Variables of one execution: Prometheus's four (it prepends `{{$labels := .Labels}}…`
    /// to every template), `$` and `.`, and any the template assigns.
    struct Scope {
        let data: TemplateData
        /// The template's own variables, innermost last: a block truncates back to its mark
        /// when it ends, as Go's executor does (no copying per block).
        var variables: [(name: String, value: TemplateValue)] = []
        /// Dot inside `with` and `range`; nil: the alert's data.
        var dotValue: TemplateValue?
        /// `$` inside a template called with `{{template}}`: the value passed.
        var rootOverride: TemplateValue?
        /// How many `{{template}}` calls deep this runs (a template calling itself must stop).
        var depth = 0

        var dot: TemplateValue { dotValue ?? rootDot }

        var rootDot: TemplateValue {
            .record(["Labels": .map(data.labels), "ExternalLabels": .map(data.externalLabels),
                     "ExternalURL": .string(data.externalURL), "Value": .number(data.value)])
        }

        func variable(_ name: String) -> TemplateValue? {
            if !variables.isEmpty, let index = variables.lastIndex(where: { $0.name == name }) { return variables[index].value }
            // Prometheus's four and `$`, told apart by length and one byte: the parser refused any
            // other name that is not declared, and a declared one was found above. (This runs for
            // every `$labels.x` of every series; comparing whole strings showed in profiles.)
            let utf8 = name.utf8
            switch utf8.count {
            case 7 where utf8.last == UInt8(ascii: "s"): return .map(data.labels)          // $labels
            case 6 where utf8.last == UInt8(ascii: "e"): return .number(data.value)        // $value
            case 15 where utf8.last == UInt8(ascii: "s"): return .map(data.externalLabels) // $externalLabels
            case 12 where utf8.last == UInt8(ascii: "L"): return .string(data.externalURL) // $externalURL
            case 1: return rootOverride ?? rootDot                                          // $
            default: return nil
            }
        }

        /// `.Labels`, `.Value`…: the fields of dot, without building it.
        func dotField(_ name: String) -> TemplateValue? {
            if dotValue != nil { return nil }
            switch name {
            case "Labels": return .map(data.labels)
            case "Value": return .number(data.value)
            case "ExternalLabels": return .map(data.externalLabels)
            case "ExternalURL": return .string(data.externalURL)
            default: return data.fields[name]
            }
        }
    }
}
