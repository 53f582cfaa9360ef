/// Where something was written in a configuration file: line and column from 1, the column
/// counted in Unicode scalars (as libyaml counts it, so JSON and YAML agree).
struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    var line: Int
    var column: Int

    var description: String { "\(line):\(column)" }
}

/// A value of a configuration document, JSON or YAML, and where it was written. The decoder
/// reads values from these; the positions go into the errors.
struct ConfigurationNode: Sendable {
    struct Entry: Sendable {
        var key: String
        var keyPosition: SourcePosition
        var value: ConfigurationNode
    }

    enum Value: Sendable {
        /// `quoted`: written as a string (JSON's "…", YAML's quotes or block scalars). A plain
        /// scalar may also be a number, `true`/`false` or null.
        case scalar(String, quoted: Bool)
        case sequence([ConfigurationNode])
        /// In the order written, repeated keys included (the decoder refuses those).
        case mapping([Entry])
    }

    var value: Value
    var position: SourcePosition

    /// `null`, `~` or nothing, unquoted.
    var isNull: Bool {
        guard case .scalar(let text, quoted: false) = value else { return false }
        return ["null", "Null", "NULL", "~", ""].contains(text)
    }

    /// The text of a scalar that can only be a string: quoted, or plain and not null, a boolean
    /// or a number (YAML's core schema; `port: 8080` is a number in YAML as in JSON).
    var string: String? {
        guard case .scalar(let text, let quoted) = value else { return nil }
        if quoted { return text }
        return isNull || bool != nil || Double(text) != nil && text.contains(where: \.isNumber) ? nil : text
    }

    var bool: Bool? {
        guard case .scalar(let text, quoted: false) = value else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// The text of an unquoted number.
    var number: String? {
        guard case .scalar(let text, quoted: false) = value, text.contains(where: \.isNumber), Double(text) != nil else { return nil }
        return text
    }
}
