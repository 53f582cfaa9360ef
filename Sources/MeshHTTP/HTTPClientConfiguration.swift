/// How one `HTTPClient` talks to its server: timeouts, TLS, credentials, proxy and limits.
/// A daemon builds one client per upstream (Prometheus, Kubernetes, each sink).
public struct HTTPClientConfiguration: Sendable {
    public struct TLS: Sendable {
        /// PEM file of the CAs that sign the server's certificate; nil uses the system store.
        public var caFile: String?
        /// PEM client certificate and its key, for servers that ask for mutual TLS.
        public var certificateFile: String?
        public var keyFile: String?
        /// Turns off verification of the server's certificate and name. Logged as a warning
        /// when the client is made: it exposes every request to a man in the middle.
        public var insecureSkipVerify: Bool

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
                    insecureSkipVerify: Bool = false) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.insecureSkipVerify = insecureSkipVerify
        }
    }

    public enum Authentication: Sendable {
        case none
        /// A bearer token read from a file and read again whenever the file changes, as
        /// Kubernetes rotates projected service-account tokens.
        case bearerTokenFile(String)
        case bearerToken(String)
        case basic(username: String, password: String)
    }

    public var connectTimeout: Duration
    public var timeout: Duration
    public var tls: TLS
    public var authentication: Authentication
    /// Proxies are used only when set here; see `ProxySettings.fromEnvironment`.
    public var proxy: ProxySettings
    /// Responses larger than this fail with `.tooLarge` instead of filling memory.
    public var maxResponseBytes: Int
    /// Sent with every request (for example `X-Scope-OrgID`).
    public var headers: [(name: String, value: String)]
    public var userAgent: String
    /// Idle easy handles kept for reuse; connections themselves are cached by libcurl.
    public var maxIdleHandles: Int

    public init(
        connectTimeout: Duration = .seconds(5),
        timeout: Duration = .seconds(30),
        tls: TLS = TLS(),
        authentication: Authentication = .none,
        proxy: ProxySettings = .none,
        maxResponseBytes: Int = 64 << 20,
        headers: [(name: String, value: String)] = [],
        userAgent: String = "meshwatchd",
        maxIdleHandles: Int = 8
    ) {
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.tls = tls
        self.authentication = authentication
        self.proxy = proxy
        self.maxResponseBytes = maxResponseBytes
        self.headers = headers
        self.userAgent = userAgent
        self.maxIdleHandles = maxIdleHandles
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a small positive timeout never becomes 0
    /// (which libcurl reads as "no timeout").
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(millis, 1))
    }
}
