import Yams

extension ConfigurationNode {
    /// The tree of a YAML document (an empty one has no settings), or its syntax error with
    /// line and column.
    static func yaml(_ text: String, file: String) throws(ConfigurationError) -> ConfigurationNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw ConfigurationError(file: file, position: SourcePosition(line: mark.line, column: mark.column), keyPath: "", message: "YAML: \(problem)")
            default:
                throw ConfigurationError(file: file, keyPath: "", message: "YAML: \(error)")
            }
        } catch {
            throw ConfigurationError(file: file, keyPath: "", message: "YAML: \(error)")
        }
        guard let root else { return ConfigurationNode(value: .mapping([]), position: SourcePosition(line: 1, column: 1)) }
        return try ConfigurationNode(root, file: file)
    }

    private init(_ node: Node, file: String) throws(ConfigurationError) {
        let position = SourcePosition(node.mark)
        switch node {
        case .scalar(let scalar):
            // Quoted and block scalars are strings whatever they hold; plain ones may be numbers, booleans or null.
            self.init(value: .scalar(scalar.string, quoted: scalar.style != .plain), position: position)
        case .sequence(let sequence):
            var items: [ConfigurationNode] = []
            for item in sequence { items.append(try ConfigurationNode(item, file: file)) }
            self.init(value: .sequence(items), position: position)
        case .mapping(let mapping):
            var entries: [Entry] = []
            for (key, value) in mapping {
                guard case .scalar(let name) = key else {
                    throw ConfigurationError(file: file, position: SourcePosition(key.mark), keyPath: "", message: "a key must be a word or a string")
                }
                entries.append(Entry(key: name.string, keyPosition: SourcePosition(key.mark), value: try ConfigurationNode(value, file: file)))
            }
            self.init(value: .mapping(entries), position: position)
        }
    }
}

extension SourcePosition {
    init(_ mark: Mark?) {
        self.init(line: mark?.line ?? 1, column: mark?.column ?? 1)
    }
}
