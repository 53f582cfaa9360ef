import MeshHTTP

/// A query that did not produce a result, with whether retrying the same query can help.
public struct PrometheusError: Error, Sendable, CustomStringConvertible {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case badData = "bad_data"
            case execution = "execution"
            case timeout = "timeout"
            case canceled = "canceled"
            case unavailable = "unavailable"
            case internalError = "internal"
            case notFound = "not_found"
            case otherAPIError = "api_error"
            case transport = "transport"
            case badResponse = "bad_response"
            case tooManySeries = "too_many_series"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// The query is malformed (HTTP 400): fix the rule.
        public static let badData = Kind(.badData)
        /// The query failed while running (HTTP 422), e.g. a many-to-many match.
        public static let execution = Kind(.execution)
        /// Prometheus gave up on the query (HTTP 503).
        public static let timeout = Kind(.timeout)
        public static let canceled = Kind(.canceled)
        /// Prometheus is overloaded or not ready (HTTP 503).
        public static let unavailable = Kind(.unavailable)
        public static let internalError = Kind(.internalError)
        public static let notFound = Kind(.notFound)
        /// An `errorType` this client does not know.
        public static let otherAPIError = Kind(.otherAPIError)
        /// The request never got an answer; `httpError` says why.
        public static let transport = Kind(.transport)
        /// The answer was not a Prometheus API response (a proxy's HTML page, truncated JSON).
        public static let badResponse = Kind(.badResponse)
        /// The answer had more series than the caller accepts (a rule's `max_series_per_query`).
        public static let tooManySeries = Kind(.tooManySeries)

        init(errorType: String) {
            self = Code(rawValue: errorType).map(Kind.init) ?? .otherAPIError
        }

        public var description: String { code.rawValue }
    }

    public let kind: Kind
    /// Prometheus's `errorType`, as sent.
    public let errorType: String?
    /// Prometheus's `error` message, or what went wrong.
    public let message: String
    /// The HTTP status, when there was a response.
    public let status: Int?
    public let endpoint: String
    /// The query, for logs (never a secret).
    public let query: String?
    /// The transport failure behind `.transport`.
    public let httpError: HTTPError?

    public init(kind: Kind, errorType: String? = nil, message: String, status: Int? = nil, endpoint: String,
                query: String? = nil, httpError: HTTPError? = nil) {
        self.kind = kind
        self.errorType = errorType
        self.message = message
        self.status = status
        self.endpoint = endpoint
        self.query = query
        self.httpError = httpError
    }

    /// Whether the same query may succeed later. Bad queries (400) and execution errors
    /// (422) will fail again until the rule changes; timeouts, overload and network
    /// trouble may pass.
    public var isRetryable: Bool {
        switch kind {
        case .timeout, .canceled, .unavailable, .internalError: return true
        case .transport: return httpError?.isRetryable ?? true
        case .badData, .execution, .notFound, .tooManySeries: return false
        default: return status.map { $0 >= 500 || $0 == 429 } ?? false
        }
    }

    /// Whether Prometheus (or the path to it) failed, as opposed to the query: the datasource
    /// is not reached, or not able to answer at all. A rule's own error (bad query, execution
    /// error, an answer too large) is not the datasource's.
    public var isDatasourceFailure: Bool {
        switch kind {
        case .transport, .unavailable, .timeout, .canceled, .internalError, .badResponse: return true
        case .otherAPIError: return status.map { $0 >= 500 || $0 == 429 } ?? true
        default: return false
        }
    }

    public var description: String {
        if let httpError { return "Prometheus request failed: \(httpError)" }
        var text = "Prometheus \(kind)"
        if let status { text += " (HTTP \(status))" }
        text += " from \(endpoint): \(message)"
        return text
    }
}
