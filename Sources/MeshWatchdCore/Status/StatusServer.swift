import Foundation
import Hummingbird
import HummingbirdCore
import MetricModel
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Logging

/// The status listener: `/healthz`, `/readyz`, `/metrics`, `/api/v1/alerts`, `/api/v1/rules`,
/// and the status page with the operator's API (`Console`).
package enum StatusServer {
    /// The listener's connections take one event-loop thread: they are few (a scrape, a probe,
    /// an operator's page) and their handlers run as tasks on the daemon's pool. NIO's default
    /// is one loop per core, each a thread with its own stack and buffers. Call first thing in
    /// `main`, before anything uses NIO's shared group; an operator's
    /// `NIO_SINGLETON_GROUP_LOOP_COUNT` wins.
    package static func limitEventLoops(environment: [String: String]) {
        guard environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil else { return }
        NIOSingletons.groupLoopCountSuggestion = 1
    }

    /// How long a connection may stay silent, or send a request head piece by piece, before it is closed.
    static let defaultIdleTimeout = ConfigurationDefaults.listenIdleTimeout

    static func application(host: String, port: Int, status: DaemonStatus, store: StateStore?, idleTimeout: Duration = defaultIdleTimeout,
                            console: Console? = nil, forwarding: LeaderForwarding? = nil, reloads: ReloadCoordinator? = nil,
                            logger: Logger) -> StatusListener<RouterResponder<BasicRequestContext>> {
        let router = Router()
        if let forwarding { router.add(middleware: forwarding) }
        router.get("healthz") { _, _ in "ok\n" }
        // Prometheus's own probe paths and build information, for tools that expect them.
        router.get("-/healthy") { _, _ in "meshwatchd is Healthy.\n" }
        router.get("-/ready") { _, _ -> Response in
            await status.notReadyReason == nil ? text(.ok, "meshwatchd is Ready.\n") : text(.serviceUnavailable, "Service Unavailable\n")
        }
        router.get("api/v1/status/buildinfo") { _, _ in
            json(["status": "success", "data": ["version": BuildInfo.version, "revision": BuildInfo.revision, "branch": BuildInfo.branch,
                                                "buildUser": "", "buildDate": "", "goVersion": "", "swiftVersion": BuildInfo.swiftVersion]])
        }
        router.get("readyz") { _, _ -> Response in
            if let reason = await status.notReadyReason {
                return text(.serviceUnavailable, "not ready: \(reason)\n")
            }
            return text(.ok, "ready\n")
        }
        router.get("metrics") { _, _ -> Response in
            let body = StatusRendering.metrics(await status.groupStates, ready: await status.notReadyReason == nil,
                                               version: BuildInfo.version, sinks: await status.sinkNames,
                                               deliveries: await status.deliveries, outboxDepth: (try? await store?.perform { try $0.depthBySink() }) ?? [:],
                                               remediations: await status.remediations, verifications: await status.verifications,
                                               unsavedFindings: await status.unsavedFindings,
                                               remoteWrite: await status.remoteWrite?.counters, analysis: await status.analysis)
            return text(.ok, body + status.histograms.map(\.exposition).joined() + (reloads?.exposition ?? "") + TaskPool.exposition
                            + (ProcessMetrics.read()?.exposition ?? ""),
                        contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        // Alert lists: open on a loopback-only listener, elsewhere with a login or token (or web.anonymous_alert_lists).
        let access = console?.access
        let unauthorized = json(["status": "error", "errorType": "unauthorized",
                                 "error": "this listener is not loopback-only: send a token (web.tokens) or set web.anonymous_alert_lists"],
                                status: .unauthorized)
        router.get("api/v1/alerts") { request, _ -> Response in
            if let access, !access.mayRead(.alertLists, principal: console?.principal(request), host: request.head.authority) { return unauthorized }
            return json(StatusRendering.alerts(await status.groupStates))
        }
        router.get("api/v1/rules") { request, _ -> Response in
            if let access, !access.mayRead(.alertLists, principal: console?.principal(request), host: request.head.authority) { return unauthorized }
            do throws(StatusRendering.RulesFilterError) {
                let filter = try StatusRendering.RulesFilter(query: request.uri.query)
                return json(StatusRendering.rules(await status.groupStates, filter: filter))
            } catch {
                // Prometheus's answer to a bad parameter: 400, errorType bad_data.
                return json(["status": "error", "errorType": "bad_data", "error": error.message], status: .badRequest)
            }
        }
        console?.register(on: router)
        // Prometheus's reload endpoint, as an action: a token (or a session with its CSRF token and Origin).
        router.post("-/reload") { request, _ -> Response in
            guard let reloads, let console else { return text(.notFound, "reloads are not available here\n") }
            if let refused = console.checkAction(request, principal: console.principal(request),
                                                 csrf: request.headers[HTTPField.Name("X-CSRF-Token")!], api: true) { return refused }
            switch await reloads.request("POST /-/reload") {
            case .success: return text(.ok, "reloaded\n")
            case .failure(let failure): return text(.internalServerError, "failed to reload config: \(failure)\n")
            }
        }
        // A slow client (one byte of a request head a minute) is closed after the idle timeout.
        let idle = Int64(idleTimeout.components.seconds) * 1000 + Int64(idleTimeout.components.attoseconds / 1_000_000_000_000_000)
        return StatusListener(responder: router.buildResponder(), server: .http1(configuration: .init(idleTimeout: .milliseconds(max(idle, 1)))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "meshwatchd"), logger: logger)
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The listener as a service: Hummingbird's `Application.run` without its date cache, a task
/// that rewrote the `Date` header's text every second and so woke the idle daemon every second
/// (the "no timer faster than the evaluation interval"). A status listener answers a
/// few requests a minute: each response's `Date` is written when it is sent.
struct StatusListener<Responder: HTTPResponder>: Service, CustomStringConvertible
    where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
    let responder: Responder
    let server: HTTPServerBuilder
    let configuration: ServerConfiguration
    let logger: Logger

    /// The service's name in the service group's logs (not a dump of the router).
    var description: String { "StatusListener" }

    /// A response already begun when the request turned out malformed: the connection is closed.
    struct MalformedWhileResponding: Error {}

    func run() async throws {
        let service = try server.buildServer(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                             logger: logger) { [responder, logger, configuration] request, responseWriter, channel in
            let context = Responder.Context(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                logger.debug("request failed", metadata: ["error.type": "\(error)"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = RFC3339.httpDate(Date())
            if let name = configuration.serverName { response.headers[.server] = name }
            do {
                try await responseWriter.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // Thrown as the parser's error it would make a second response.
                throw MalformedWhileResponding()
            }
        }
        try await service.run()
    }

    /// Runs it alone, stopping on SIGTERM or SIGINT (tests).
    func runService() async throws {
        try await ServiceGroup(configuration: .init(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}
