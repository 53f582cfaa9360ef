/// Everything wrong with a set of rule files, each problem with its file, line and field.
public struct RuleFileError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, CustomStringConvertible {
        public var file: String
        public var line: Int?
        public var column: Int?
        /// `group "istio", rule 2, "IstioHighLatency", field "for"`, or less where less is known.
        public var location: String
        public var message: String

        public var description: String {
            var text = file
            if let line { text += ":\(line)" + (column.map { ":\($0)" } ?? "") }
            text += ": "
            if !location.isEmpty { text += location + ": " }
            return text + message
        }
    }

    public var problems: [Problem]

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Rule groups read from files, with what was skipped.
public struct LoadedRules: Sendable {
    public var groups: [RuleGroup]
    /// One line per skipped recording rule (`recording_rules: skip`).
    public var warnings: [String]
}

/// What loading does with recording rules: evaluate them (their series go to remote write),
/// skip them with a warning each (`recording_rules: skip`), or refuse the file (no
/// `remote_write` is configured, and nothing says to skip them).
public enum RecordingRulePolicy: Sendable, Equatable {
    case evaluate, skip, refuse
}
