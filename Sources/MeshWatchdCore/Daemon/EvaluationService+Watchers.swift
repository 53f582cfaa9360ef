import CLoader
import Foundation
import Incidents
import Logging

/// The watchers beside the group loops: systemd's readiness, status and watchdog, the
/// datasource's health, and a follower's reloads. Each waits on a signal or a deadline, never
/// on a polling timer.
extension EvaluationService {
    /// READY=1 (and after a reload, READY=1 again) once every group has had its first cycle,
    /// then the start-up's pages released (`StartupPages`), and released again when a one-off
    /// path left more than a megabyte mapped (`StartupPages.Regrowth`); STATUS= after each
    /// change. Woken by the changes (cycles, reloads), never by a timer.
    func readiness(longestInterval: Duration) async -> Event {
        var regrowth = StartupPages.Regrowth(longestInterval: longestInterval)
        while !Task.isCancelled {
            _ = status.readinessSignal.take()
            let summary = await status.summary
            if await status.becameReady() {
                notifier.ready(status: summary)
                logger.info("ready", metadata: ["status": "\(summary)"])
                // Every group has had its first cycle (after a start or a reload): the code that
                // only loading ran need not stay resident.
                StartupPages.release(logger: logger)
                regrowth.released(at: .now)
            } else {
                notifier.status(summary)
                if regrowth.due(residentKB: mw_resident_file_kb(), at: .now) {
                    StartupPages.release(logger: logger, again: true)
                    regrowth.released(at: .now)
                }
            }
            await status.readinessSignal.wait(upTo: Self.idleWait)
        }
        return .done
    }

    /// The longest a watcher sleeps without a change to look at.
    static let idleWait: Duration = .seconds(3600)

    /// Raises and resolves `MeshWatchDatasourceDown`: Prometheus is unreachable when no rule of
    /// any group succeeded in its last cycle and it does not answer the query `1` either
    /// (rules failing on a Prometheus that answers are the rules' problem, not an outage).
    /// Driven by the cycles' outcomes: it looks after each cycle, and probes only while every
    /// rule failed.
    func watchDatasource(_ settings: DaemonSettings, committer: StateCommitter) async -> Event {
        let client = settings.datasource.client
        var endpoint = URLComponents(string: client.baseURL)
        endpoint?.user = nil
        endpoint?.password = nil
        endpoint?.query = nil
        let labels = ["prometheus": endpoint?.string ?? ""]
        var wasReachable: Bool?
        while !Task.isCancelled {
            _ = status.datasourceSignal.take()
            let states = await status.groupStates.compactMap(\.state)
            if !states.isEmpty {
                let rules = states.flatMap(\.rules)
                var reachable = rules.isEmpty || rules.contains { $0.health != .err }
                if !reachable { reachable = await client.queryProblem() == nil }
                let error = rules.compactMap(\.lastError).first ?? ""
                if reachable != wasReachable {
                    if reachable == false { logger.warning("Prometheus unreachable", metadata: ["error": "\(error)"]) }
                    if reachable && wasReachable == false { logger.info("Prometheus reachable again") }
                    wasReachable = reachable
                }
                // The failed cycles' ticks: when the queries that failed were sent.
                let failingSince = reachable ? nil : states.compactMap(\.lastEvaluation).min()
                let plan = planner.datasource(reachable: reachable, error: error, labels: labels, failingSince: failingSince, at: Date())
                if !plan.isEmpty || unsaved.keys.contains(NotificationPlanner.ownGroup) {
                    let committed = await committer.commit(key: NotificationPlanner.ownGroup, snapshot: nil, .init(plan: plan))
                    if committed && !plan.outgoing.isEmpty {
                        logger.log(level: reachable ? .info : .critical,
                                   reachable ? "alert resolved" : "alert firing",
                                   metadata: ["rule.name": "\(NotificationPlanner.datasourceDownAlert)", "error": "\(error)"])
                    }
                }
            }
            await status.datasourceSignal.wait(upTo: Self.idleWait)
        }
        return .done
    }

    /// Feeds systemd's watchdog only while every group loop shows life, so a hung loop gets
    /// the daemon restarted.
    func watchdog(every interval: Duration) async -> Event {
        while !Task.isCancelled {
            let stuck = await status.stuckGroups()
            if stuck.isEmpty {
                notifier.watchdog()
            } else {
                logger.critical("evaluation loop stuck; not feeding the watchdog", metadata: ["group.names": "\(stuck)"])
            }
            do { try await Task.sleep(for: interval) } catch { break }
        }
        return .done
    }

    /// A follower's reloads: SIGHUP, `POST /-/reload` (when no leader answers it) and changed
    /// files load the configuration as the leader's would (users and tokens take effect at once);
    /// the settings wait for this replica's first generation.
    func followerReloads() async {
        while !Task.isCancelled {
            let settings = latest.value
            let next: DaemonSettings? = await withTaskGroup(of: Event.self) { tasks in
                if let loaded = settings.loadedFiles { reloads.attempted(loaded) }
                tasks.addTask { await reloadWhenAsked(watching: settings.watchedFiles) }
                tasks.addTask { await watchFiles(settings) }
                for await event in tasks {
                    if case .reload(let next) = event {
                        tasks.cancelAll()
                        return next
                    }
                }
                return nil
            }
            guard let next else { return }
            latest.value = next
            notifier.ready(status: "following: another replica holds the lease (configuration reloaded)")
        }
    }
}
