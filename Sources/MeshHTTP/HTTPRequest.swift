import Foundation

/// One HTTP request. The client's configuration supplies TLS, authentication, timeouts and
/// proxies; a request carries only what differs per call.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE", head = "HEAD"
    }

    public var method: Method
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Overrides the client's total timeout for this request.
    public var timeout: Duration?
    /// When the URL itself is a secret (a Slack or PagerDuty hook with a key in its path),
    /// errors and logs show only its scheme, host and port.
    public var urlIsSecret: Bool

    public init(
        method: Method = .get,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration? = nil,
        urlIsSecret: Bool = false
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.urlIsSecret = urlIsSecret
    }

    /// A `POST` with an `application/x-www-form-urlencoded` body.
    public static func form(url: String, fields: [(String, String)], timeout: Duration? = nil) -> HTTPRequest {
        let body = fields.map { "\(formEscape($0.0))=\(formEscape($0.1))" }.joined(separator: "&")
        return HTTPRequest(
            method: .post, url: url,
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(body.utf8), timeout: timeout
        )
    }

    /// A request with a JSON body (`POST` unless told otherwise).
    public static func json(
        method: Method = .post, url: String, body: [UInt8], timeout: Duration? = nil, urlIsSecret: Bool = false
    ) -> HTTPRequest {
        HTTPRequest(
            method: method, url: url, headers: [("Content-Type", "application/json")],
            body: body, timeout: timeout, urlIsSecret: urlIsSecret
        )
    }

    /// Percent-encodes a form field: everything but unreserved characters (RFC 3986), as Go's
    /// `url.QueryEscape` does, except that a space becomes `%20`, which servers accept too.
    /// Bytes in, bytes out: every query of every cycle goes through here (building the String
    /// scalar by scalar was a quarter of a cycle's instructions).
    static func formEscape(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}

/// A response of any status; `requireSuccess()` turns a non-2xx into an `HTTPError`.
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header names as the server sent them; look them up with `header(_:)`.
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
    /// The redacted endpoint, for errors about this response.
    public let endpoint: String

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8], endpoint: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.endpoint = endpoint
    }

    /// The last value of a header, its name matched without regard to ASCII case (field names
    /// are ASCII tokens, RFC 9110 §5.1): compared byte by byte, not through Foundation's
    /// Unicode comparison (which folds `K`, the Kelvin sign, to `k`, and runs ICU's code).
    public func header(_ name: String) -> String? {
        headers.last { Self.sameFieldName($0.name, name) }?.value
    }

    /// Whether two field names are equal when ASCII letters are folded to lower case; any other
    /// byte must be equal.
    static func sameFieldName(_ lhs: String, _ rhs: String) -> Bool {
        var left = lhs.utf8.makeIterator(), right = rhs.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case let (a?, b?):
                let foldedA = a >= 0x41 && a <= 0x5A ? a | 0x20 : a
                let foldedB = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                if foldedA != foldedB { return false }
            default: return false
            }
        }
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// Returns the response when its status is 2xx, otherwise throws an `HTTPError` with
    /// the status and a short excerpt of the body.
    @discardableResult
    public func requireSuccess() throws(HTTPError) -> HTTPResponse {
        guard isSuccess else {
            throw HTTPError.status(status, bodyExcerpt: HTTPError.excerpt(of: body), endpoint: endpoint,
                                   retryAfter: header("Retry-After"))
        }
        return self
    }
}
