/// Label lists (`by`, `without`, `on`, `ignoring`, `group_left`/`group_right`) and vector
/// selectors with their matchers (regexes checked as Prometheus compiles them).
extension Parser {
    mutating func labelList(_ context: String) throws(PromQLError) -> [String] {
        _ = try expect(.leftParen, context)
        var labels: [String] = []
        while current.kind != .rightParen {
            let token = advance()
            // Label names may be keywords (`on`, `bool`) or aggregation names; Prometheus 3's quoted UTF-8 names too.
            if syntax == .prometheus3 && token.kind == .string {
                guard !token.text.isEmpty else { throw error("invalid label name \"\"", at: token.offset) }
                labels.append(token.text)
            } else {
                guard token.kind == .identifier || token.kind == .keyword, Self.isLabelName(token.text) else { throw unexpected(context, token) }
                labels.append(token.text)
            }
            if current.kind == .comma { _ = advance() } else if current.kind != .rightParen { throw unexpected(context, current) }
        }
        _ = advance()
        return labels
    }

    mutating func selector(name: String?, at offset: Int) throws(PromQLError) -> VectorSelector {
        var matchers: [LabelMatcher] = []
        var name = name
        if current.kind == .leftBrace {
            _ = advance()
            while current.kind != .rightBrace {
                let label = advance()
                // Prometheus 3: `"metric.name"` alone is the metric name; `"label.name"="…"` a matcher.
                if syntax == .prometheus3 && label.kind == .string && (current.kind == .comma || current.kind == .rightBrace) {
                    if let name { throw error("metric name must not be set twice: \"\(name)\" or \"\(label.text)\"", at: offset) }
                    guard !label.text.isEmpty else { throw error("vector selector must contain at least one non-empty matcher", at: offset) }
                    name = label.text
                    if current.kind == .comma { _ = advance() }
                    continue
                }
                let quotedLabel = syntax == .prometheus3 && label.kind == .string && !label.text.isEmpty
                guard quotedLabel || (label.kind == .identifier || label.kind == .keyword) && Self.isLabelName(label.text) else {
                    throw unexpected("label matching", label)
                }
                let kind: LabelMatcher.Kind
                switch current.kind {
                case .assign: kind = .equal
                case .notEqual: kind = .notEqual
                case .regexMatch: kind = .regex
                case .regexNoMatch: kind = .notRegex
                default: throw unexpected("label matching, expected label matching operator", current)
                }
                _ = advance()
                let value = try expect(.string, "label matching, expected string")
                // As Prometheus: a regex matcher's value is compiled when the matcher is built, at the label's position.
                if kind == .regex || kind == .notRegex, let failure = RegexSyntax.error(value.text) {
                    throw error(failure, at: label.offset)
                }
                matchers.append(LabelMatcher(name: label.text, kind: kind, value: value.text))
                if current.kind == .comma { _ = advance() } else if current.kind != .rightBrace { throw unexpected("label matching", current) }
            }
            _ = advance()
        }
        var selector = VectorSelector(name: name ?? "", matchers: matchers)
        if let name {
            if let other = matchers.first(where: { $0.name == "__name__" }) {
                throw error("metric name must not be set twice: \"\(name)\" or \"\(other.value)\"", at: offset)
            }
            selector.matchers.append(LabelMatcher(name: "__name__", kind: .equal, value: name))
        } else if let named = matchers.first(where: { $0.name == "__name__" && $0.kind == .equal }) {
            selector.name = named.value
        }
        return selector
    }
}
