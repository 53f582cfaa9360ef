import AlertEngine
import ArgumentParser
import Foundation
import Logging
import MeshHTTP
import ServiceLifecycle
import Remediation

/// `meshwatchd run`: the daemon.
package struct RunCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: evaluate every rule group on its interval until stopped.",
        discussion: """
            Evaluates each group on its own interval (aligned like Prometheus's), keeps alert \
            state in a SQLite file in the state directory so a restart keeps `for` clocks and \
            does not fire again, and logs every transition. SIGHUP reloads the configuration \
            and rules (a broken one is refused and the old one keeps running); SIGTERM or \
            SIGINT stop it within shutdown_timeout. Under systemd (Type=notify) it reports \
            READY=1 after the first cycle, STATUS=, WATCHDOG=1 while every loop is alive, \
            RELOADING=1 and STOPPING=1, and logs to the journal with structured fields.
            """
    )

    @OptionGroup var source: RuleSourceOptions
    @OptionGroup var prometheus: PrometheusOptions
    @OptionGroup var kubernetes: KubernetesOptions

    @Option(help: "State directory (default: the config's state_directory, else $STATE_DIRECTORY, else /var/lib/meshwatchd).")
    var stateDirectory: String?

    @Option(help: "Status listener host:port (default: the config's listen_address, else 127.0.0.1:9819).")
    var listen: String?

    @Option(help: ArgumentHelp("Log format: auto, json, text or journald (default: the config's log.format, else auto).", valueName: "format"))
    var logFormat: String?

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical (default: the config's log.level, else info).",
                               valueName: "level"))
    var logLevel: Logger.Level?

    package func run() async throws {
        // Everything the daemon writes (state, credential files) is its own: no group or other bits.
        umask(0o077)
        let environment = ProcessInfo.processInfo.environment
        // The configuration is read before logging starts, to know its level and format.
        let configuration: Configuration
        do {
            configuration = try source.config.map { try Configuration.load(path: $0) } ?? Configuration()
        } catch {
            FileHandle.standardError.write(Data("meshwatchd: configuration is wrong: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var format = configuration.log?.format?.value ?? .auto
        if let logFormat {
            guard let flag = LogFormat(rawValue: logFormat) else { throw ValidationError("--log-format: expected auto, json, text or journald") }
            format = flag
        }
        let level = logLevel ?? configuration.log?.level?.value ?? .info
        bootstrapDaemonLogging(format: format.resolved(environment: environment), level: level)
        let logger = Logger(label: "meshwatchd")

        let election = configuration.leaderElection?.enabled == true ? configuration.leaderElection : nil
        let directory = stateDirectory ?? configuration.stateDirectory
            ?? environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init) ?? "/var/lib/meshwatchd"
        let store: StateStore
        do {
            store = try StateStore(path: directory + "/state.sqlite", logger: logger)
        } catch {
            logger.critical("cannot open the state directory", metadata: ["state.path": "\(directory)", "error": "\(error)"])
            FileHandle.standardError.write(Data("meshwatchd: \(error)\n".utf8))
            throw ExitCode(73)  // EX_CANTCREAT
        }
        let leadership = Leadership(leading: election == nil)
        let runtime = RemediationRuntime(leadership: leadership, ledger: store)
        // Optional so that this function lets go of the first generation's settings (and their
        // HTTP clients) once the service holds them: a reload must be able to free them.
        var settings: DaemonSettings?
        var elector: LeaderElector?
        do {
            settings = try DaemonSettings.resolve(source: source, prometheus: prometheus, kubernetes: kubernetes, runtime: runtime, logger: logger)
            if let election {
                elector = try Self.elector(election, configuration: configuration, kubernetes: kubernetes, leadership: leadership,
                                           environment: environment, logger: logger)
            }
        } catch {
            logger.critical("cannot start: configuration or rules are wrong", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("meshwatchd: \(error)\n".utf8))
            throw ExitCode(78)
        }

        guard let address = ListenAddress(listen ?? configuration.listenAddress ?? ConfigurationDefaults.listenAddress) else {
            throw ValidationError("--listen: expected host:port such as 127.0.0.1:9819")
        }
        do { try address.checkAvailable() } catch {
            logger.critical("cannot start: the status listener cannot listen", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("meshwatchd: \(error)\n".utf8))
            throw ExitCode(69)  // EX_UNAVAILABLE
        }
        let status = DaemonStatus()
        let access: WebAccess
        do { access = try Self.webAccess(configuration.web, address: address, environment: environment) } catch {
            logger.critical("cannot start: the web settings are wrong", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("meshwatchd: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let running = (externalURL: configuration.web?.externalUrl, listen: configuration.listenAddress)
        let reload: @Sendable () throws -> DaemonSettings = { [source, prometheus, kubernetes, logger] in
            // Users, tokens (their files read again, first: one that cannot be read fails the whole
            // reload before anything changed), anonymous lists and the session timeout reload with the rest.
            let settings = try DaemonSettings.resolve(source: source, prometheus: prometheus, kubernetes: kubernetes, runtime: runtime, logger: logger)
            for user in access.update(settings.credentials) {
                logger.notice("sessions ended: the user was removed or its password changed", metadata: ["web.user": "\(user)"])
            }
            if settings.web?.externalUrl != running.externalURL || settings.listenAddress != running.listen {
                logger.warning("listen_address and web.external_url take effect at the next start; the running listener keeps its own")
            }
            return settings
        }
        guard let service = Self.service(taking: &settings, reload: reload, store: store, status: status, elector: elector, logger: logger) else {
            return
        }
        if !access.loopbackOnly && !access.canAct {
            logger.notice("the status listener is not loopback-only and no user or token is configured: only probes and metrics are open, and nothing can act",
                          metadata: ["listen.address": "\(address.host):\(address.port)"])
        }
        let cluster = elector.map { ClusterCopy(client: $0.client, namespace: $0.configuration.namespace,
                                                name: configuration.web?.stateConfigmap ?? ConfigurationDefaults.stateConfigMap) }
        let latest = service.latest
        let actions = OperatorActions(planner: service.planner, store: store, status: status, outboxSignal: service.outboxSignal, cluster: cluster,
                                      leadership: elector == nil ? nil : leadership, logger: logger, sinks: { latest.value.sinks })
        service.onLeading.set { await actions.adoptFromCluster() }
        let console = Console(status: status, store: store, actions: actions, access: access,
                              base: Self.pagePath(configuration.web?.externalUrl),
                              prometheusURL: configuration.externalUrl ?? configuration.prometheus?.url ?? prometheus.url ?? "",
                              runbooks: { latest.value.diagnosis.map { Array($0.catalog.values) } ?? [] }, logger: logger)
        // A client of its own, never through HTTP(S)_PROXY: forwarded requests carry users' cookies and tokens.
        let forwarding = elector.map { _ in LeaderForwarding(leadership: leadership, http: HTTPClient(configuration: .init(timeout: .seconds(10))),
                                                             logger: logger) }
        let idleTimeout = configuration.listenIdleTimeout?.value ?? StatusServer.defaultIdleTimeout
        let server = StatusServer.application(host: address.host, port: address.port, status: status, store: store,
                                              idleTimeout: idleTimeout, console: console, forwarding: forwarding, reloads: service.reloads,
                                              logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(services: [server, service], gracefulShutdownSignals: [.sigterm, .sigint],
                                                           logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Self.gracefulPart(of: configuration.shutdownTimeout?.value ?? ConfigurationDefaults.shutdownTimeout)
        logger.info("starting", metadata: [
            "state.path": "\(store.path)", "config.file": "\(source.config ?? "-")", "listen.address": "\(address.host):\(address.port)",
        ])
        try await ServiceGroup(configuration: groupConfiguration).run()
    }

    /// How long in-flight work may run after SIGTERM before it is cancelled: the shutdown
    /// timeout less a reserve (a fifth, at most 2 s) for what runs after the cancellation, the
    /// last state save above all, so that stopping as a whole keeps within `shutdown_timeout`
    /// even when a cycle in flight (a huge answer on a busy machine) ends only when cancelled.
    static func gracefulPart(of shutdownTimeout: Duration) -> Duration {
        shutdownTimeout - min(shutdownTimeout / 5, .seconds(2))
    }

    /// The evaluation service, which from now on holds the only reference to the first
    /// generation's settings (so a reload frees them and their clients).
    static func service(taking settings: inout DaemonSettings?, reload: @escaping @Sendable () throws -> DaemonSettings, store: StateStore,
                        status: DaemonStatus, elector: LeaderElector?, logger: Logger) -> EvaluationService? {
        guard let initial = settings.take() else { return nil }
        return EvaluationService(initial: initial, reload: reload, store: store, status: status, notifier: SystemdNotifier(logger: logger),
                                 elector: elector, logger: logger)
    }

    /// Who may see and do what on the page: users and tokens (token files read now), whether
    /// the listener is loopback-only.
    static func webAccess(_ web: Configuration.Web?, address: ListenAddress, environment: [String: String]) throws -> WebAccess {
        let credentials = try webCredentials(web)
        let access = WebAccess(loopbackOnly: address.isLoopback, externalURL: web?.externalUrl)
        access.update(credentials)
        return access
    }

    /// Users, tokens (each file read now) and reading rules from the web section.
    static func webCredentials(_ web: Configuration.Web?) throws -> WebAccess.Credentials {
        var tokens: [(name: String, token: String)] = []
        for (index, token) in (web?.tokens ?? []).enumerated() {
            guard let path = token.file, let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(file: "", keyPath: "web.tokens[\(index)].file", message: "cannot read \(token.file ?? "(missing)")")
            }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard value.utf8.count >= 16 else {
                throw ConfigurationError(file: "", keyPath: "web.tokens[\(index)].file", message: "\(path): a token needs at least 16 characters")
            }
            tokens.append((token.name ?? "token\(index)", value))
        }
        let users = (web?.users ?? []).compactMap { user in
            user.name.flatMap { name in user.passwordHash.map { WebAccess.User(name: name, passwordHash: $0) } }
        }
        return WebAccess.Credentials(users: users, tokens: tokens, anonymousAlertLists: web?.anonymousAlertLists ?? false,
                                     sessionTimeout: web?.sessionTimeout?.value ?? .seconds(12 * 3600))
    }

    /// The path of the page's external URL without a trailing slash (`/meshwatchd`), or "".
    static func pagePath(_ url: String?) -> String {
        guard let url, let path = URLComponents(string: url)?.path, path != "/" else { return "" }
        return path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// The Lease campaign: in the daemon's own namespace, as this pod (or host).
    static func elector(_ election: Configuration.LeaderElection, configuration: Configuration, kubernetes: KubernetesOptions,
                        leadership: Leadership, environment: [String: String], logger: Logger) throws -> LeaderElector {
        guard let client = try kubernetes.makeClient(configuration: configuration.kubernetes, environment: environment, logger: logger) else {
            throw ValidationError("leader_election needs a Kubernetes API (kubernetes.kubeconfig or in_cluster)")
        }
        let namespace = election.namespace ?? configuration.remediationPolicy(environment: environment).ownNamespace ?? client.connection.namespace
        let advertiseURL = configuration.web?.advertiseUrl ?? environment["POD_IP"].map { ip in
            let port = ListenAddress(configuration.listenAddress ?? ConfigurationDefaults.listenAddress)?.port ?? 9819
            return "http://" + (ip.contains(":") ? "[\(ip)]" : ip) + ":\(port)"
        }
        let identity = election.identity ?? environment["POD_NAME"] ?? (ProcessInfo.processInfo.hostName + "-" + String(UUID().uuidString.prefix(8)).lowercased())
        return LeaderElector(client: client, configuration: .init(
            namespace: namespace, name: election.name ?? "meshwatchd", identity: identity,
            leaseDuration: election.leaseDuration?.value ?? ConfigurationDefaults.leaseDuration,
            renewDeadline: election.renewDeadline?.value ?? ConfigurationDefaults.renewDeadline,
            retryPeriod: election.retryPeriod?.value ?? ConfigurationDefaults.retryPeriod,
            advertiseURL: advertiseURL), leadership: leadership, logger: logger)
    }
}
