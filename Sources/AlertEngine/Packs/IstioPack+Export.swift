extension IstioPack {
    /// The pack as a standard Prometheus rule file, for `promtool`, Prometheus or vmalert.
    public func ruleFile() -> String {
        var out = "# The meshwatchd Istio alert pack, exported by `meshwatchd rules export`.\n"
        out += "# Parameters: " + parameters.entries.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        out += "groups:\n  - name: \(Self.groupName)\n    interval: \(parameters.interval)\n    rules:\n"
        for definition in definitions {
            out += "      - alert: \(definition.name)\n"
            out += "        expr: \(Self.quoted(definition.expression))\n"
            out += "        for: \(definition.holdDuration)\n"
            out += "        labels:\n"
            for label in definition.labels { out += "          \(label.name): \(Self.quoted(label.template))\n" }
            out += "        annotations:\n"
            for annotation in definition.annotations { out += "          \(annotation.name): \(Self.quoted(annotation.template))\n" }
        }
        return out
    }

    /// A YAML single-quoted scalar: only `'` needs escaping (as `''`).
    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
