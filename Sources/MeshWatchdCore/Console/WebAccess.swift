import CCrypto
import Foundation
import Synchronization

/// Who may see and do what on the status page and the operator's API.
///
/// - `/healthz`, `/readyz`, `/metrics` are always open (probes and scrapes).
/// - Alert lists and rule health: open on a loopback-only listener; elsewhere they need a login
///   (or a token) unless `web.anonymous_alert_lists` says otherwise.
/// - Evidence, findings, the ledger, runbooks and silences: open on a loopback-only listener,
///   a login or a token elsewhere.
/// - Every action (acknowledge, add or expire a silence): always a login or a token; a form
///   also needs its session's CSRF token and an `Origin` of this page. Nothing is open for
///   writing by default: without users or tokens in the configuration, nothing can act.
final class WebAccess: Sendable {
    enum Level: Sendable { case alertLists, evidence }

    struct User: Sendable {
        var name: String
        var passwordHash: String
    }

    /// A logged-in browser: its cookie value, its user, its CSRF token and when it ends.
    struct Session: Sendable {
        var id: String
        var user: String
        var csrf: String
        var expires: Date
        /// The hash the password was checked against: a session outlives no password change,
        /// even one reloaded while its login was being checked.
        var passwordHash = ""
    }

    /// Who a request acts as, and how it proved it.
    struct Principal: Sendable, Equatable {
        enum Via: Sendable, Equatable { case session(csrf: String), token }
        var name: String
        var via: Via
    }

    static let cookieName = "meshwatchd_session"
    static let maxSessions = 10_000

    /// What a reload may change: who may log in or act, and how reading and sessions go.
    struct Credentials: Sendable {
        var users: [String: User] = [:]
        /// Token value → name.
        var tokens: [String: String] = [:]
        var anonymousAlertLists = false
        var sessionTimeout: Duration = .seconds(12 * 3600)

        init(users: [User] = [], tokens: [(name: String, token: String)] = [], anonymousAlertLists: Bool = false,
             sessionTimeout: Duration = .seconds(12 * 3600)) {
            // A hash of a method not accepted never lets anyone in (the configuration check refuses it too).
            self.users = Dictionary(users.filter { WebAccess.isKnownHash($0.passwordHash) }.map { ($0.name, $0) }) { first, _ in first }
            self.tokens = Dictionary(tokens.map { ($0.token, $0.name) }) { first, _ in first }
            self.anonymousAlertLists = anonymousAlertLists
            self.sessionTimeout = sessionTimeout
        }
    }

    let loopbackOnly: Bool
    private let credentials: Mutex<Credentials>
    var anonymousAlertLists: Bool { credentials.withLock { $0.anonymousAlertLists } }
    var users: [String: User] { credentials.withLock { $0.users } }
    /// Token value → name.
    var tokens: [String: String] { credentials.withLock { $0.tokens } }
    var sessionTimeout: Duration { credentials.withLock { $0.sessionTimeout } }
    /// The origin forms must come from when the page's external URL is known (`https://ops.example.com`).
    let externalOrigin: String?
    /// Cookies get `Secure` when the page is served over https.
    let secureCookies: Bool
    private let sessions = Mutex<[String: Session]>([:])

    init(loopbackOnly: Bool, anonymousAlertLists: Bool = false, users: [User] = [], tokens: [(name: String, token: String)] = [],
         sessionTimeout: Duration = .seconds(12 * 3600), externalURL: String? = nil) {
        self.loopbackOnly = loopbackOnly
        credentials = Mutex(Credentials(users: users, tokens: tokens, anonymousAlertLists: anonymousAlertLists, sessionTimeout: sessionTimeout))
        externalOrigin = externalURL.flatMap(Self.origin(ofURL:))
        secureCookies = externalURL?.lowercased().hasPrefix("https://") ?? false
    }

    /// Whether anyone can act at all (users or tokens configured).
    var canAct: Bool { credentials.withLock { !$0.users.isEmpty || !$0.tokens.isEmpty } }

    /// Takes reloaded credentials. A removed token stops working at once; the sessions of a user
    /// removed or whose password hash changed end (a rotated password logs everyone out of it).
    /// Returns the users whose sessions ended.
    @discardableResult
    func update(_ new: Credentials) -> [String] {
        let old = credentials.withLock { credentials in
            defer { credentials = new }
            return credentials
        }
        let ended = Set(old.users.values.filter { new.users[$0.name]?.passwordHash != $0.passwordHash }.map(\.name))
        guard !ended.isEmpty else { return [] }
        sessions.withLock { sessions in sessions = sessions.filter { !ended.contains($0.value.user) } }
        return ended.sorted()
    }

    // MARK: - Reading

    /// Whether a request may read at `level`, logged in or not. On a loopback-only listener a
    /// request without a login must also name a loopback host (`Host: 127.0.0.1:9819`,
    /// `localhost`) or the external URL's: a page of another site whose name resolves to 127.0.0.1
    /// (DNS rebinding) reads nothing.
    func mayRead(_ level: Level, principal: Principal?, host: String? = nil) -> Bool {
        if principal != nil { return true }
        if loopbackOnly && (host.map(isLocalHost) ?? true) { return true }
        return level == .alertLists && anonymousAlertLists
    }

    func isLocalHost(_ authority: String) -> Bool {
        var name = authority.lowercased()
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            name = String(name[name.index(after: name.startIndex)..<close])
        } else if let colon = name.lastIndex(of: ":") {
            name = String(name[..<colon])
        }
        if ListenAddress.isLoopbackHost(name) { return true }
        return externalOrigin.flatMap { URLComponents(string: $0)?.host?.lowercased() } == name
    }

    // MARK: - Who is asking

    /// The principal of a request: a bearer token from the configuration, or a live session cookie.
    func principal(authorization: String?, cookie: String?, at time: Date = Date()) -> Principal? {
        if let authorization, authorization.lowercased().hasPrefix("bearer ") {
            let presented = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            // Compared with every configured token in constant time; the first that matches names it.
            var found: String?
            for (token, name) in tokens where Self.constantTimeEqual(token, presented) && found == nil { found = name }
            return found.map { Principal(name: "token:" + $0, via: .token) }
        }
        guard let id = Self.cookieValue(cookie, name: Self.cookieName) else { return nil }
        let users = self.users
        return sessions.withLock { sessions -> Principal? in
            guard let session = sessions[id] else { return nil }
            guard session.expires > time, users[session.user]?.passwordHash == session.passwordHash else {
                sessions[id] = nil
                return nil
            }
            return Principal(name: session.user, via: .session(csrf: session.csrf))
        }
    }

    /// Password checks run here, one at a time, never on Swift's cooperative threads: a bcrypt
    /// check takes tens of milliseconds, and a flood of logins must not stall evaluation.
    private static let hashing = DispatchQueue(label: "meshwatchd.password-check")
    private let waitingLogins = Mutex(0)
    static let maxWaitingLogins = 8
    /// Checked for unknown user names (bcrypt, cost 10, of nothing anyone knows).
    static let decoyHash = bcrypt(randomToken(), cost: 10) ?? "$2b$10$"

    enum LoginOutcome: Sendable { case session(Session), refused, busy }

    /// `login` off the cooperative pool; `busy` when too many checks already wait (answered 429).
    func checkLogin(user name: String, password: String) async -> LoginOutcome {
        let admitted = waitingLogins.withLock { count -> Bool in
            guard count < Self.maxWaitingLogins else { return false }
            count += 1
            return true
        }
        guard admitted else { return .busy }
        let session: Session? = await withCheckedContinuation { continuation in
            Self.hashing.async { continuation.resume(returning: self.login(user: name, password: password)) }
        }
        waitingLogins.withLock { $0 -= 1 }
        return session.map(LoginOutcome.session) ?? .refused
    }

    /// Checks a user's password; a new session when it matches. Blocks for the hash's cost.
    func login(user name: String, password: String, at time: Date = Date()) -> Session? {
        guard password.utf8.count <= 4096, !password.contains("\0") else { return nil }
        guard let user = users[name] else {
            // As long as a check of a real user: the answer's time must not tell which names exist.
            _ = mw_crypt_verify(password, Self.decoyHash)
            return nil
        }
        guard mw_crypt_verify(password, user.passwordHash) == 1 else { return nil }
        let session = Session(id: Self.randomToken(), user: user.name, csrf: Self.randomToken(),
                              expires: time.addingTimeInterval(sessionTimeout.seconds), passwordHash: user.passwordHash)
        sessions.withLock { sessions in
            // Expired sessions go; past the bound, the oldest goes (a login storm cannot fill memory).
            sessions = sessions.filter { $0.value.expires > time }
            if sessions.count >= Self.maxSessions, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires }) {
                sessions[oldest.key] = nil
            }
            sessions[session.id] = session
        }
        return session
    }

    func logout(cookie: String?) {
        guard let id = Self.cookieValue(cookie, name: Self.cookieName) else { return }
        sessions.withLock { _ = $0.removeValue(forKey: id) }
    }

    /// The `Set-Cookie` for a session (or one that clears it).
    func cookie(for session: Session?) -> String {
        let value = session?.id ?? ""
        let age = session == nil ? 0 : Int(sessionTimeout.seconds)
        return "\(Self.cookieName)=\(value); Path=/; Max-Age=\(age); HttpOnly; SameSite=Strict" + (secureCookies ? "; Secure" : "")
    }

    // MARK: - Actions

    enum Refusal: Error, Equatable, CustomStringConvertible {
        case notLoggedIn, csrf, origin

        var description: String {
            switch self {
            case .notLoggedIn: "log in (or send a token) to do this"
            case .csrf: "the form's CSRF token does not match this session; reload the page and try again"
            case .origin: "the request does not come from this page (Origin)"
            }
        }
    }

    /// May this request act? A token may; a session only with its CSRF token and this page's
    /// Origin (`host` is the Host the browser used, for when no external URL is configured).
    func mayAct(principal: Principal?, csrf: String?, origin: String?, host: String?, forwardedProto: String? = nil) -> Refusal? {
        guard let principal else { return .notLoggedIn }
        guard case .session(let expected) = principal.via else { return nil }
        guard let csrf, Self.constantTimeEqual(expected, csrf) else { return .csrf }
        guard let origin, let presented = Self.origin(ofURL: origin) else { return .origin }
        if let externalOrigin { return presented == externalOrigin ? nil : .origin }
        guard let host, !host.isEmpty else { return .origin }
        let scheme = forwardedProto?.lowercased() == "https" ? "https" : "http"
        return presented == "\(scheme)://\(host.lowercased())" ? nil : .origin
    }

    // MARK: - Helpers

    /// `scheme://host[:port]`, lowercased, the default port dropped; nil for anything else (`null`).
    static func origin(ofURL text: String) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(shownHost)" + (port.map { ":\($0)" } ?? "")
    }

    static func cookieValue(_ header: String?, name: String) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix(name + "=") { return String(pair.dropFirst(name.count + 1)) }
        }
        return nil
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    /// The methods accepted: bcrypt, yescrypt (and gost-yescrypt), scrypt, SHA-512 and SHA-256
    /// crypt. libcrypt would also take DES, MD5 and NT hashes, and read any two-letter text (a
    /// plain password) as a DES salt: those are refused.
    static let acceptedPrefixes = ["$2a$", "$2b$", "$2y$", "$y$", "$gy$", "$7$", "$6$", "$5$"]

    /// Whether the hash is one of the accepted methods and libcrypt can check it (a config check).
    static func isKnownHash(_ hash: String) -> Bool {
        !hash.contains("\0") && acceptedPrefixes.contains(where: hash.hasPrefix) && mw_crypt_verify("", hash) >= 0
    }

    /// A bcrypt hash of a password (cost 10), for `meshwatchd hash-password`.
    static func bcrypt(_ password: String, cost: Int = 10) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard mw_crypt_bcrypt(password, Int32(cost), &buffer, buffer.count) == 0 else { return nil }
        return String(cString: buffer)
    }
}
