/// Everything that can go wrong with one HTTP call, with whether a retry can help.
///
/// Messages never hold credentials: URLs are shown without user info and query, and
/// tokens and passwords are scrubbed from libcurl's own messages.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New kinds may be added.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case connectionRefused = "connection refused"
            case connectionFailed = "connection failed"
            case dns = "DNS resolution failed"
            case timeout = "timed out"
            case tls = "TLS failure"
            case tooLarge = "response too large"
            case status = "HTTP error status"
            case credentials = "credentials unavailable"
            case invalidRequest = "invalid request"
            case transport = "transport error"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        public static let connectionRefused = Kind(.connectionRefused)
        public static let connectionFailed = Kind(.connectionFailed)
        public static let dns = Kind(.dns)
        public static let timeout = Kind(.timeout)
        public static let tls = Kind(.tls)
        public static let tooLarge = Kind(.tooLarge)
        public static let status = Kind(.status)
        public static let credentials = Kind(.credentials)
        public static let invalidRequest = Kind(.invalidRequest)
        public static let transport = Kind(.transport)

        public var description: String { code.rawValue }
    }

    public let kind: Kind
    /// The endpoint, redacted (see `HTTPRequest.urlIsSecret`).
    public let endpoint: String
    /// Detail from libcurl or the server, scrubbed of secrets.
    public let message: String
    /// The HTTP status for `.status`.
    public let status: Int?
    /// The first bytes of the response body for `.status`.
    public let bodyExcerpt: String?
    /// The server's `Retry-After` header for `.status`, as sent.
    public let retryAfter: String?

    public init(kind: Kind, endpoint: String, message: String, status: Int? = nil,
                bodyExcerpt: String? = nil, retryAfter: String? = nil) {
        self.kind = kind
        self.endpoint = endpoint
        self.message = message
        self.status = status
        self.bodyExcerpt = bodyExcerpt
        self.retryAfter = retryAfter
    }

    static func status(_ status: Int, bodyExcerpt: String, endpoint: String, retryAfter: String?) -> HTTPError {
        HTTPError(kind: .status, endpoint: endpoint, message: "HTTP \(status)", status: status,
                  bodyExcerpt: bodyExcerpt, retryAfter: retryAfter)
    }

    /// Whether the same request may succeed later: network trouble, timeouts, 5xx and 429.
    /// TLS, size, credential and other 4xx failures need a change first.
    public var isRetryable: Bool {
        switch kind {
        case .connectionRefused, .connectionFailed, .dns, .timeout, .transport: return true
        case .status: return status.map { $0 >= 500 || $0 == 429 } ?? false
        default: return false
        }
    }

    public var description: String {
        var text = "\(kind) for \(endpoint): \(message)"
        if let bodyExcerpt, !bodyExcerpt.isEmpty { text += ": \(bodyExcerpt)" }
        return text
    }

    /// At most `limit` bytes of a body as text, with control characters replaced.
    static func excerpt(of body: [UInt8], limit: Int = 512) -> String {
        let text = String(decoding: body.prefix(limit), as: UTF8.self)
        let cleaned = String(text.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) })
        return body.count > limit ? cleaned + "…" : cleaned
    }
}
