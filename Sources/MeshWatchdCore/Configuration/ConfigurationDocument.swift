import Foundation

/// A configuration file parsed strictly into nodes that know where they were written: JSON as
/// RFC 8259 defines it, or YAML with the same keys for a `.yaml` or `.yml` file.
struct ConfigurationDocument {
    var file: String
    var root: ConfigurationNode

    /// Reads and parses `path`; a file that cannot be read says why, as the system does.
    init(path: String) throws(ConfigurationError) {
        try self.init(bytes: try Self.contents(of: path), file: path)
    }

    /// Parses `text` as the contents of `file`, whose extension chooses JSON or YAML.
    init(text: String, file: String) throws(ConfigurationError) {
        try self.init(bytes: Array(text.utf8), file: file)
    }

    private init(bytes: [UInt8], file: String) throws(ConfigurationError) {
        self.file = file
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(file: file, keyPath: "", message: "not UTF-8 text")
        }
        if ["yaml", "yml"].contains(URL(fileURLWithPath: file).pathExtension.lowercased()) {
            root = try ConfigurationNode.yaml(text, file: file)
        } else {
            root = try StrictJSONParser.parse(bytes, file: file)
        }
        guard case .mapping = root.value else {
            throw ConfigurationError(file: file, position: root.position, keyPath: "", message: "expected an object of settings")
        }
    }

    private static func contents(of path: String) throws(ConfigurationError) -> [UInt8] {
        func failure() -> ConfigurationError {
            ConfigurationError(file: path, keyPath: "", message: "cannot be read: \(String(cString: strerror(errno)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure() }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count > 0 {
                bytes += buffer[..<count]
            } else if errno != EINTR {
                throw failure()
            }
        }
    }

    /// Decodes `T`. A value of the wrong type, or a key the type requires, is thrown with its
    /// position; the keys no part of `T` asked for are returned, all of them, each with its
    /// position and the known key it is closest to.
    func decode<T: Decodable>(_ type: T.Type) throws(ConfigurationError) -> (value: T, unknownKeys: [ConfigurationError]) {
        let ledger = NodeDecoder.Ledger()
        do {
            let value = try NodeDecoder(node: root, ledger: ledger).decode(T.self)
            return (value, unknownKeys(ledger))
        } catch let error as DecodingError {
            throw problem(error)
        } catch {
            throw ConfigurationError(file: file, keyPath: "", message: "\(error)")
        }
    }

    private func unknownKeys(_ ledger: NodeDecoder.Ledger) -> [ConfigurationError] {
        var found: [ConfigurationError] = []
        for object in ledger.objects {
            guard case .mapping(let entries) = object.node.value else { continue }
            let path = locate(object.codingPath).keyPath
            var seen: [String: SourcePosition] = [:]
            for entry in entries {
                let keyPath = Self.joined(path, entry.key)
                if let first = seen[entry.key] {
                    found.append(ConfigurationError(file: file, position: entry.keyPosition, keyPath: keyPath, message: "repeated key (first at \(first))"))
                    continue
                }
                seen[entry.key] = entry.keyPosition
                guard !object.freeForm, !object.asked.contains(entry.key) else { continue }
                var message = "unknown key"
                if let suggestion = KeySuggestion.closest(to: entry.key, among: object.asked) {
                    message += "; did you mean `\(suggestion)`?"
                } else if !object.asked.isEmpty && object.asked.count <= 12 {
                    message += " (known here: \(object.asked.sorted().joined(separator: ", ")))"
                }
                found.append(ConfigurationError(file: file, position: entry.keyPosition, keyPath: keyPath, message: message))
            }
        }
        return found.sorted { ($0.position?.line ?? 0, $0.position?.column ?? 0) < ($1.position?.line ?? 0, $1.position?.column ?? 0) }
    }

    private func problem(_ error: DecodingError) -> ConfigurationError {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let (keyPath, node) = locate(context.codingPath)
            return ConfigurationError(file: file, position: node.position, keyPath: keyPath, message: context.debugDescription)
        case .keyNotFound(let key, let context):
            let (keyPath, node) = locate(context.codingPath)
            return ConfigurationError(file: file, position: node.position, keyPath: Self.joined(keyPath, ConfigurationError.snakeCase(key.stringValue)),
                                      message: "missing")
        @unknown default:
            return ConfigurationError(file: file, keyPath: "", message: "\(error)")
        }
    }

    /// The node a coding path leads to, or as close as the document goes, and the path as
    /// the file spells it (`sinks[0].url_file`, `prometheus.headers.X-Scope-OrgID`).
    private func locate(_ codingPath: [any CodingKey]) -> (keyPath: String, node: ConfigurationNode) {
        var node = root, keyPath = ""
        for key in codingPath {
            if let index = key.intValue, case .sequence(let items) = node.value, items.indices.contains(index) {
                node = items[index]
                keyPath += "[\(index)]"
            } else if case .mapping(let entries) = node.value,
                      let entry = entries.first(where: { $0.key == ConfigurationError.snakeCase(key.stringValue) })
                          ?? entries.first(where: { $0.key == key.stringValue }) {
                node = entry.value
                keyPath = Self.joined(keyPath, entry.key)
            } else {
                return (Self.joined(keyPath, key.intValue.map { "[\($0)]" } ?? ConfigurationError.snakeCase(key.stringValue)), node)
            }
        }
        return (keyPath, node)
    }

    private static func joined(_ path: String, _ key: String) -> String {
        path.isEmpty || key.hasPrefix("[") ? path + key : path + "." + key
    }
}
