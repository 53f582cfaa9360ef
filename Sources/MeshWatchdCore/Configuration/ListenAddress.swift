/// `host:port`, `[v6]:port`.
struct ListenAddress: Sendable, Equatable {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    /// Only this machine can connect: 127.0.0.0/8, ::1, localhost.
    var isLoopback: Bool { Self.isLoopbackHost(host) }

    /// `localhost`, `::1`, or an IPv4 literal in 127.0.0.0/8 (not a name such as `127.example.com`).
    static func isLoopbackHost(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in UInt8(part).map { _ in !part.isEmpty } ?? false }
    }
}
