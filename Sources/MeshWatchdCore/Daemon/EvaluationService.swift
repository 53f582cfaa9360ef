import AlertEngine
import Foundation
import Synchronization
import Incidents
import Logging
import MetricModel
import ServiceLifecycle
import UnixSignals
import Remediation

/// The daemon's work: every rule group on its own loop, SIGHUP reloads that keep the old
/// configuration when the new one is wrong, the systemd watchdog fed only while every loop
/// is alive, and a final save on graceful shutdown.
struct EvaluationService: ServiceLifecycle.Service {
    /// The last configuration loaded successfully: a replica that regains the lease starts from
    /// it, never from the one it started with (a reload's kill switch or deny list stays in force).
    let latest: LatestSettings
    /// Builds new settings from the same flags and configuration file, for SIGHUP.
    let reload: @Sendable () throws -> DaemonSettings
    let store: StateStore
    let status: DaemonStatus
    let notifier: SystemdNotifier
    let logger: Logger
    let outboxSignal = OutboxSignal()
    let diagnosisSignal = OutboxSignal()
    /// Shared by every generation: what was sent survives a reload.
    let planner: NotificationPlanner
    /// Decisions the disk refused, waiting for their group's next save (across reloads too).
    let unsaved = UnsavedWork()

    /// With leader election: only the leader evaluates, notifies and acts.
    let elector: LeaderElector?
    /// Run each time this replica takes the lease, before it evaluates (adopting the cluster's
    /// silences and acknowledgements).
    let onLeading = LeadingHook()
    /// SIGHUP, POST /-/reload and changed files ask for reloads here.
    let reloads = ReloadCoordinator()

    init(initial: DaemonSettings, reload: @escaping @Sendable () throws -> DaemonSettings, store: StateStore, status: DaemonStatus,
         notifier: SystemdNotifier, elector: LeaderElector? = nil, logger: Logger) {
        self.elector = elector
        latest = LatestSettings(initial)
        self.reload = reload
        self.store = store
        self.status = status
        self.notifier = notifier
        self.logger = logger
        var records: [String: NotificationRecord] = [:]
        do { records = try store.notificationRecords() } catch {
            logger.error("could not read notification records; reminders and escalation restart", metadata: ["error": "\(error)"])
        }
        planner = NotificationPlanner(policy: initial.notifications.policy, routes: initial.notifications.routes, records: records,
                                      factory: initial.notifications.factory)
    }

    private enum GenerationEnd: Sendable {
        case reload(DaemonSettings, [String: RuleEngine])
        case stopped
    }

    enum Event: Sendable {
        case loopEnded(String, RuleEngine)
        case reload(DaemonSettings)
        case done
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await cancelWhenGracefulShutdown {
                // SIGHUP is trapped for the whole run, leading or following: its default action
                // would end the process, and a follower reloads too (its users, tokens, rules).
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { _ = await self.forwardSIGHUP() }
                    if let elector { await elected(elector) } else { try await generations() }
                    tasks.cancelAll()
                }
            }
        } onGracefulShutdown: { [notifier, logger] in
            logger.info("shutting down")
            notifier.stopping()
        }
    }

    /// Follows until this replica holds the lease, leads while it does, and stops leading the
    /// moment it loses it (the generation is cancelled; the remediator checks the lease again
    /// right before any write).
    private func elected(_ elector: LeaderElector) async {
        let (changes, continuation) = AsyncStream<Bool>.makeStream()
        await status.setFollowing(true)
        notifier.ready(status: "following: waiting for the lease")
        logger.info("following: waiting for the lease", metadata: ["lease": "\(elector.configuration.namespace)/\(elector.configuration.name)",
                                                               "identity": "\(elector.configuration.identity)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await elector.run(continuation) }
            var leading: Task<Void, Never>?
            // While following, reloads still apply (the next generation starts from them).
            var following: Task<Void, Never>? = Task { await followerReloads() }
            for await isLeader in changes {
                if isLeader {
                    following?.cancel()
                    await following?.value
                    following = nil
                    await onLeading.run()
                    await status.setFollowing(false)
                    leading = Task { try? await generations() }
                } else {
                    leading?.cancel()
                    await leading?.value
                    leading = nil
                    if following == nil { following = Task { await followerReloads() } }
                    // Another replica leads now and announces from its own evaluations: what this one
                    // could not save must not go out later, when it leads again, as a second page.
                    let dropped = unsaved.clear()
                    if dropped > 0 {
                        logger.error("unsaved findings dropped: another replica leads", metadata: ["findings.unsaved": .stringConvertible(dropped)])
                    }
                    await status.stateWritten()
                    await status.setFollowing(true)
                    notifier.status("following: another replica holds the lease")
                }
            }
            leading?.cancel()
            await leading?.value
            following?.cancel()
            await following?.value
            group.cancelAll()
        }
    }

    private func generations() async throws {
        var settings = latest.value
        var carried: [String: RuleEngine]? = nil
        while true {
            switch await generation(settings, carried: carried) {
            case .reload(let next, let engines):
                settings = next
                latest.value = next
                carried = engines
            case .stopped:
                // What waits for remote write gets a moment (within the shutdown timeout) to go out.
                if let queue = settings.output?.queue, await !queue.drain(timeout: .seconds(2)) {
                    let unsent = await queue.queuedSamples
                    logger.warning("remote-write samples unsent at shutdown", metadata: ["remote_write.queued_samples": .stringConvertible(unsent)])
                }
                logger.info("evaluation stopped; alert state saved", metadata: ["state.path": "\(store.path)"])
                return
            }
        }
    }

    /// Runs one configuration until a reload or shutdown.
    private func generation(_ settings: DaemonSettings, carried: [String: RuleEngine]?) async -> GenerationEnd {
        await status.reset(groups: settings.groups.map { group in
            // A loop may take one interval to sleep plus, per rule, the query timeout and a margin.
            let budget = settings.interval(of: group) + (settings.queryTimeout + .seconds(10)) * group.rules.count
            return (group.name, group.rules.count, budget, settings.interval(of: group))
        })
        // Alerts of groups a reload removed are not firing: the remediator's last check must not see them.
        settings.diagnosis?.firing.retain(groups: Set(settings.groups.map(\.name)))
        planner.configure(policy: settings.notifications.policy, routes: settings.notifications.routes,
                          factory: settings.notifications.factory)
        await status.configureSinks(settings.sinks.map(\.name))
        for sink in settings.sinks {
            (sink.sink as? AlertmanagerSink)?.follow { [planner] in planner.silences }
        }
        await status.configureRemoteWrite(settings.output?.queue)
        await status.configureAnalysis(settings.analysis != nil)
        logger.info("evaluating", metadata: [
            "config.groups": .stringConvertible(settings.groups.count), "config.rules": .stringConvertible(settings.ruleCount),
            "config.reload": .stringConvertible(carried != nil),
        ])
        let committer = StateCommitter(store: store, backlog: unsaved, status: status, outboxSignal: outboxSignal,
                                       diagnosisSignal: diagnosisSignal, delays: settings.notifications.holds,
                                       liveKeys: Set(settings.groups.map(\.name) + [NotificationPlanner.ownGroup]
                                                         + (settings.analysis == nil ? [] : [AnalysisSchedule.group])), logger: logger)
        var engines: [(RuleGroup, RuleEngine)] = []
        let reloadedAt = Date()
        for group in settings.groups {
            var engine = RuleEngine(groups: [group], context: settings.context, output: settings.output)
            if let previous = carried?[group.name] {
                // What the reload took away (a rule removed or relabelled) resolves now, saved with the
                // group's new state before its loop starts: a second reload before the first cycle loses nothing.
                let resolves = engine.adoptState(from: previous, at: reloadedAt)
                if !resolves.isEmpty {
                    for resolve in resolves {
                        settings.diagnosis?.firing.remove(group: group.name,
                                                          NotificationPlanner.alertKey(group: group.name, fingerprint: resolve.instance.fingerprint))
                    }
                    let plan = settings.sinks.isEmpty ? NotificationPlan() : planner.plan(resolves, at: reloadedAt)
                    await committer.commit(key: group.name, snapshot: engine.snapshot(at: reloadedAt), .init(plan: plan, transitions: resolves))
                }
            }
            engines.append((group, engine))
        }
        await markEndedSeries(carried ?? [:], engines: engines.map(\.1), at: reloadedAt, settings: settings)
        await status.configure(engines.map { $0.1.groups[0] })
        await resolveRemovedGroups(carried ?? [:], keeping: Set(settings.groups.map(\.name)), at: reloadedAt,
                                   settings: settings, committer: committer)
        // The configuration checks' findings are alerts of their own group: kept while the schedule
        // runs; when it is turned off, what it had raised resolves (every sink that heard hears it).
        if settings.analysis == nil {
            await AnalysisSchedule.resolveStored(store: store, planner: planner, committer: committer, notifies: !settings.sinks.isEmpty,
                                                 at: reloadedAt, logger: logger)
        }
        let kept = Set(settings.groups.map(\.name) + (settings.analysis == nil ? [] : [AnalysisSchedule.group]))
        do { try store.save(plan: planner.prune(keepingGroups: kept)) } catch {
            logger.error("could not save notification state", metadata: ["error": "\(error)"])
        }
        return await withTaskGroup(of: Event.self) { tasks in
            for (group, engine) in engines {
                let loop = GroupLoop(group: group, settings: settings, store: store, status: status, logger: logger,
                                     restoreFromStore: carried == nil, planner: planner, committer: committer,
                                     clock: SystemTickClock(), datasource: settings.datasource)
                tasks.addTask { .loopEnded(group.name, await loop.run(engine: engine)) }
            }
            let longestInterval = settings.groups.map { settings.interval(of: $0) }.max() ?? .zero
            tasks.addTask { await readiness(longestInterval: longestInterval) }
            let worker = OutboxWorker(store: SQLiteOutbox(store: store), sinks: settings.sinks.map(\.sink), policy: DeliveryPolicy(), signal: outboxSignal,
                                      reporter: status, logger: logger)
            tasks.addTask {
                await worker.run()
                return .done
            }
            if !settings.sinks.isEmpty { tasks.addTask { await watchDatasource(settings, committer: committer) } }
            if let diagnosis = settings.diagnosis {
                let diagnoser = DiagnosisWorker(store: store, diagnosis: diagnosis, signal: diagnosisSignal, outboxSignal: outboxSignal,
                                                planner: planner, status: status, logger: logger)
                tasks.addTask {
                    await diagnoser.run()
                    return .done
                }
            }
            if let analysis = settings.analysis {
                let schedule = AnalysisSchedule(settings: analysis, store: store, planner: planner, committer: committer,
                                                notifies: !settings.sinks.isEmpty, status: status, logger: logger)
                tasks.addTask {
                    await schedule.run()
                    return .done
                }
            }
            if let loaded = settings.loadedFiles { reloads.attempted(loaded) }
            tasks.addTask { await reloadWhenAsked(watching: settings.watchedFiles) }
            tasks.addTask { await watchFiles(settings) }
            if let interval = notifier.watchdogInterval {
                // The watchdog follows the evaluation interval: a daemon evaluating every 5 min is
                // not held to the unit's 90 s; the timeout is twice the longest group interval (never
                // below the unit's), sent to systemd, and fed at half of it.
                let timeout = max(interval * 2, longestInterval * 2)
                if timeout > interval * 2 { notifier.watchdogTimeout(timeout) }
                tasks.addTask { await watchdog(every: timeout / 2) }
            }

            var engines: [String: RuleEngine] = [:]
            var next: DaemonSettings?
            for await event in tasks {
                switch event {
                case .loopEnded(let name, let engine): engines[name] = engine
                case .reload(let settings):
                    next = settings
                    tasks.cancelAll()
                case .done: break
                }
            }
            // What this generation's loops saw firing is no evidence for the next one (after a lost
            // lease or a reload): its own evaluations must see the alerts again.
            settings.diagnosis?.firing.retain(groups: [])
            return next.map { .reload($0, engines) } ?? .stopped
        }
    }

    /// Groups a reload removed: their firing alerts resolve (every sink that heard of them
    /// hears the resolve) and their stored state goes.
    /// Staleness markers, at the reload, for what rules the reload removed or relabelled (and
    /// removed groups) had written: their recorded series and ALERTS end now instead of lingering
    /// for the 5-minute lookback.
    private func markEndedSeries(_ carried: [String: RuleEngine], engines: [RuleEngine], at time: Date, settings: DaemonSettings) async {
        guard let queue = settings.output?.queue, !carried.isEmpty else { return }
        let current = RuleEngine(groups: engines.flatMap { $0.groups.map(\.group) })
        let ended = carried.values.flatMap { current.endedSeries(from: $0) }
        guard !ended.isEmpty else { return }
        let millis = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        await queue.enqueue(ended.map { Sample(labels: $0, point: SamplePoint(timestampMillis: millis, value: RuleEngine.staleNaN)) })
        logger.info("series of removed rules marked stale", metadata: ["remote_write.stale_series": .stringConvertible(ended.count)])
    }

    private func resolveRemovedGroups(_ carried: [String: RuleEngine], keeping: Set<String>, at time: Date,
                                      settings: DaemonSettings, committer: StateCommitter) async {
        for (name, engine) in carried.sorted(by: { $0.key < $1.key }) where !keeping.contains(name) {
            let resolves = engine.resolveAll(at: time)
            let plan = settings.sinks.isEmpty ? NotificationPlan() : planner.plan(resolves, at: time)
            await committer.commit(key: name, snapshot: EngineSnapshot(takenAt: time, rules: [:]), .init(plan: plan, transitions: resolves))
        }
    }
}

/// Work to do on taking the lease.
final class LeadingHook: Sendable {
    private let work = Mutex<(@Sendable () async -> Void)?>(nil)
    func set(_ body: @escaping @Sendable () async -> Void) { work.withLock { $0 = body } }
    func run() async {
        if let body = work.withLock({ $0 }) { await body() }
    }
}

/// The settings of the last successful load, shared by the generations of one process.
final class LatestSettings: Sendable {
    private let settings: Mutex<DaemonSettings>
    init(_ settings: DaemonSettings) { self.settings = Mutex(settings) }
    var value: DaemonSettings {
        get { settings.withLock { $0 } }
        set { settings.withLock { $0 = newValue } }
    }
}
