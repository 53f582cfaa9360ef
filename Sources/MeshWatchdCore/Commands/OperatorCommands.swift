import ArgumentParser
import Synchronization
import Foundation
import Incidents
import MeshHTTP
import MetricModel

/// Where the operator commands find the daemon: `--url`, else the configuration's listener.
struct DaemonAPIOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The daemon's status listener (default: http://<listen_address of --config>, else http://127.0.0.1:9819).",
                               valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("Configuration file, for its listen_address.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("File holding a token from web.tokens (default: $MESHWATCHD_TOKEN_FILE).", valueName: "file"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("CA bundle to verify an https listener with.", valueName: "file"))
    var caFile: String?

    @OptionGroup var logging: LogLevelOptions

    func baseURL() throws -> String {
        if let url { return url.hasSuffix("/") ? String(url.dropLast()) : url }
        var listen = ConfigurationDefaults.listenAddress
        if let config {
            let configuration = try Configuration.load(path: config)
            listen = configuration.listenAddress ?? listen
        }
        guard let address = ListenAddress(listen) else { throw ValidationError("listen_address: expected host:port, got \(listen)") }
        // A wildcard listener is reached on loopback from this machine.
        let host = ["0.0.0.0", "::", ""].contains(address.host) ? "127.0.0.1" : address.host
        return "http://" + (host.contains(":") ? "[\(host)]" : host) + ":\(address.port)"
    }

    func client() throws -> HTTPClient {
        let path = tokenFile ?? ProcessInfo.processInfo.environment["MESHWATCHD_TOKEN_FILE"]
        guard let path, !path.isEmpty else {
            throw ValidationError("acting needs a token: --token-file FILE (or MESHWATCHD_TOKEN_FILE) naming a file of web.tokens")
        }
        return HTTPClient(configuration: .init(timeout: .seconds(15), tls: .init(caFile: caFile), authentication: .bearerTokenFile(path)))
    }

    /// Sends one API call; the JSON answer's `data`, or the daemon's error as a failure. Starts
    /// logging on the first call.
    func call(_ method: HTTPRequest.Method, _ path: String, body: [String: Any]? = nil) async throws -> Any? {
        Self.startLogging.withLock { started in
            if !started { logging.bootstrap() }
            started = true
        }
        let client = try client()
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        let response = try await client.execute(HTTPRequest(method: method, url: try baseURL() + path,
                                                            headers: data == nil ? [] : [("Content-Type", "application/json")],
                                                            body: data.map(Array.init)))
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        guard response.isSuccess else {
            let message = object?["error"] as? String ?? String(decoding: response.body.prefix(300), as: UTF8.self)
            throw OperatorCommandError(message: "the daemon answered \(response.status): \(message)")
        }
        return object?["data"]
    }
}

extension DaemonAPIOptions {
    /// Logging can be bootstrapped once per process.
    static let startLogging = Mutex(false)
}

struct OperatorCommandError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `meshwatchd ack ALERT`: acknowledges a firing alert.
package struct AckCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Acknowledge a firing alert: its reminders and escalation stop, and every sink is told who took it.",
        discussion: """
            ALERT is the alert's key, <group>/<fingerprint>, as the status page and the finding's \
            links show it (group "istio-mesh" and fingerprint "1f2e3d": istio-mesh/1f2e3d). The \
            acknowledgement lasts until the alert resolves. It needs a token of web.tokens \
            (--token-file); the daemon records the token's name as who acknowledged.
            """
    )

    @Argument(help: ArgumentHelp("<group>/<fingerprint> of the alert.", valueName: "alert"))
    var alert: String

    @Option(help: "Why, or what is being done.")
    var comment = ""

    @OptionGroup var api: DaemonAPIOptions
    @OptionGroup var output: OutputOptions

    package func run() async throws {
        let data = try await api.call(.post, "/api/v1/acknowledgements", body: ["alert": alert, "comment": comment]) as? [String: Any]
        switch output.format() {
        case .table: print("acknowledged \(alert) as \(data?["by"] as? String ?? "?") at \(data?["at"] as? String ?? "?")")
        case .json: print(try JSONOutput.document(data ?? [:]))
        case .jsonl: print(try JSONOutput.line(data ?? [:]))
        }
    }
}

/// `meshwatchd silence add|list|expire`.
package struct SilenceCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Add, list or expire silences in the running daemon.",
        discussion: """
            Matchers use Alertmanager's syntax: name="value", name!="value", name=~"regex", \
            name!~"regex" (anchored regular expressions). A silenced alert reaches no sink but the \
            Alertmanager sinks, which receive it with the silence so Alertmanager shows it \
            suppressed. Silences persist, expire, are logged and show on the status page.
            """,
        subcommands: [Add.self, List.self, Expire.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a silence; prints its id.")

        @Argument(help: ArgumentHelp("Matchers, e.g. alertname=\"IstioHighLatency\" namespace=~\"payments|checkout\".", valueName: "matcher"))
        var matchers: [String]

        @Option(help: "How long it lasts from now (or from --start), e.g. 2h.")
        var duration = "1h"

        @Option(help: "When it starts (RFC 3339); default now.")
        var start: String?

        @Option(help: "Why (required).")
        var comment: String

        @OptionGroup var api: DaemonAPIOptions
        @OptionGroup(title: "Output (table: the id alone)") var output: OutputOptions

        func validate() throws {
            guard !matchers.isEmpty else { throw ValidationError("give at least one matcher") }
            guard let duration = PrometheusDuration.parse(duration), duration > .zero else {
                throw ValidationError("--duration: expected a duration such as 2h, got \(duration)")
            }
            if let start, Finding.parseTimestamp(start) == nil { throw ValidationError("--start: expected RFC 3339, got \(start)") }
        }

        func run() async throws {
            var body: [String: Any] = ["matchers": matchers, "duration": duration, "comment": comment]
            if let start { body["startsAt"] = start }
            let data = try await api.call(.post, "/api/v1/silences", body: body) as? [String: Any]
            switch output.format() {
            case .table: print(data?["silenceID"] as? String ?? "")
            case .json: print(try JSONOutput.document(data ?? [:]))
            case .jsonl: print(try JSONOutput.line(data ?? [:]))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List silences (active and pending; --expired adds the expired).")

        @Flag(help: "Show expired silences too (kept five days).")
        var expired = false

        @OptionGroup var output: OutputOptions
        @OptionGroup var api: DaemonAPIOptions

        func run() async throws {
            let list = (try await api.call(.get, "/api/v1/silences") as? [[String: Any]] ?? []).filter {
                expired || (($0["status"] as? [String: Any])?["state"] as? String) != "expired"
            }
            if output.format() != .table { return try JSONOutput.print(items: list, as: output.format()) }
            print(["ID", "STATE", "ENDS", "CREATED BY", "MATCHERS", "COMMENT"].joined(separator: "\t"))
            for silence in list {
                let state = (silence["status"] as? [String: Any])?["state"] as? String ?? ""
                print([silence["id"] as? String ?? "", state, silence["endsAt"] as? String ?? "", silence["createdBy"] as? String ?? "",
                       (silence["matchers"] as? [String] ?? []).joined(separator: ","), silence["comment"] as? String ?? ""].joined(separator: "\t"))
            }
        }
    }

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Expire silences now.")

        @Argument(help: ArgumentHelp("Silence ids.", valueName: "id"))
        var ids: [String]

        @OptionGroup var api: DaemonAPIOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var expired: [Any] = []
            for id in ids {
                guard id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                    throw ValidationError("\(id): not a silence id")
                }
                _ = try await api.call(.delete, "/api/v1/silence/" + id)
                if output.format() == .table { print("expired \(id)") } else { expired.append(["id": id, "expired": true]) }
            }
            try JSONOutput.print(items: expired, as: output.format())
        }
    }
}

/// `meshwatchd hash-password`: a bcrypt hash for web.users[].password_hash.
package struct HashPasswordCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Read a password from standard input and print its bcrypt hash, for web.users[].password_hash."
    )

    @Option(help: "bcrypt cost, 4 to 31.")
    var cost = 10

    @OptionGroup var logging: LogLevelOptions

    package func validate() throws {
        guard (4...31).contains(cost) else { throw ValidationError("--cost: expected 4 to 31") }
    }

    package func run() throws {
        logging.bootstrap()
        let input = FileHandle.standardInput.readDataToEndOfFile()
        var password = String(decoding: input, as: UTF8.self)
        if password.hasSuffix("\n") { password.removeLast() }
        if password.hasSuffix("\r") { password.removeLast() }
        guard !password.isEmpty else { throw ValidationError("no password on standard input") }
        guard let hash = WebAccess.bcrypt(password, cost: cost) else { throw OperatorCommandError(message: "libcrypt could not hash the password") }
        print(hash)
    }
}
