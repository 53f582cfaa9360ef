import Foundation

enum Redaction {
    /// The URL as it may appear in errors and logs: no user info, no query, and for a secret
    /// URL nothing past the port.
    static func endpoint(_ url: String, secret: Bool) -> String {
        guard let components = URLComponents(string: url), let host = components.host else {
            return secret ? "<redacted URL>" : "<malformed URL>"
        }
        var shown = "\(components.scheme ?? "http")://\(host)"
        if let port = components.port { shown += ":\(port)" }
        shown += secret ? "/<redacted>" : components.path
        return shown
    }

    /// Removes every occurrence of each secret from a message.
    static func scrub(_ message: String, secrets: [String]) -> String {
        secrets.filter { $0.count >= 4 }.reduce(message) {
            $0.replacingOccurrences(of: $1, with: "<redacted>")
        }
    }
}
