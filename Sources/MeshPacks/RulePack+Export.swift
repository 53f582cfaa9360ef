import Foundation

extension RulePack.Expanded {
    /// The pack as a standard Prometheus rule file, for `promtool`, Prometheus or vmalert.
    public func ruleFile() -> String {
        var out = "# The meshwatchd \(pack.title) alert pack, exported by `meshwatchd rules export --pack \(pack.name)`.\n"
        out += "# Parameters: " + values.entries.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        out += "groups:\n  - name: \(pack.groupName)\n"
        if let interval = values["interval"] { out += "    interval: \(interval)\n" }
        out += "    rules:\n"
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
