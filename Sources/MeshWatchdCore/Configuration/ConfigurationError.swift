/// A mistake in the configuration: the file, where in it when known, the key path as written
/// (`sinks[0].url`), and what is wrong.
struct ConfigurationError: Error, CustomStringConvertible {
    var file: String
    var position: SourcePosition?
    var keyPath: String
    var message: String

    init(file: String, position: SourcePosition? = nil, keyPath: String, message: String) {
        self.file = file
        self.position = position
        self.keyPath = keyPath
        self.message = message
    }

    /// `config.json:3:18: remediation.deny_namespace: unknown key; …`, as compilers and rule-file errors write it.
    var description: String {
        file + (position.map { ":\($0)" } ?? "") + ": " + (keyPath.isEmpty ? "" : keyPath + ": ") + message
    }

    /// A Swift property name as the file spells it: `headerFiles` is `header_files`.
    static func snakeCase(_ key: String) -> String {
        key.reduce(into: "") { out, character in
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
    }
}
