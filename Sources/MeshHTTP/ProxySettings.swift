/// Which proxy a client uses, per URL scheme.
///
/// libcurl would read the proxy variables itself; meshwatchd always tells it explicitly
/// instead, so that only the executable reads the environment and tests can say what
/// they mean. `fromEnvironment` follows curl's rules for the usual variables.
public struct ProxySettings: Sendable, Equatable {
    public var httpProxy: String?
    public var httpsProxy: String?
    /// Hosts, domains (`.example.com`) and CIDR ranges to reach directly, comma-separated,
    /// or `*` for all; passed to libcurl's `CURLOPT_NOPROXY`.
    public var noProxy: String?

    public init(httpProxy: String? = nil, httpsProxy: String? = nil, noProxy: String? = nil) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.noProxy = noProxy
    }

    /// No proxy at all.
    public static let none = ProxySettings()

    /// Reads `http_proxy`, `https_proxy`/`HTTPS_PROXY`, `all_proxy`/`ALL_PROXY` and
    /// `no_proxy`/`NO_PROXY` as curl does. Uppercase `HTTP_PROXY` is ignored, as in curl:
    /// a CGI environment lets a client set it (httpoxy).
    public static func fromEnvironment(_ environment: [String: String]) -> ProxySettings {
        func value(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        let all = value("all_proxy", "ALL_PROXY")
        return ProxySettings(
            httpProxy: value("http_proxy") ?? all,
            httpsProxy: value("https_proxy", "HTTPS_PROXY") ?? all,
            noProxy: value("no_proxy", "NO_PROXY")
        )
    }

    /// The proxy for a URL, by its scheme; nil for a direct connection.
    func proxy(for url: String) -> String? {
        url.lowercased().hasPrefix("https:") ? httpsProxy : httpProxy
    }
}
