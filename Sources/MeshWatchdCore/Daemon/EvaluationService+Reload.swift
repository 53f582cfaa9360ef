import Foundation
import UnixSignals

/// How the evaluation service is asked to reload: SIGHUP, POST /-/reload, changed files.
extension EvaluationService {
    /// Reloads when asked (SIGHUP, POST /-/reload, a changed file); a reload that fails keeps the
    /// running configuration and says why, to the log, systemd and the HTTP caller.
    func reloadWhenAsked(watching files: [String]) async -> Event {
        while !Task.isCancelled {
            let requests = await reloads.next()
            guard !requests.isEmpty else { break }
            reloads.attempted(FileWatch(paths: files))
            notifier.reloading()
            logger.info("reloading configuration and rules", metadata: ["reload.source": "\(Set(requests.map(\.source)).sorted().joined(separator: ","))"])
            do {
                let settings = try reload()
                reloads.finished(.success(()), answering: requests)
                return .reload(settings)
            } catch {
                logger.error("reload failed; the previous configuration keeps running", metadata: ["error": "\(error)"])
                notifier.ready(status: "reload failed: \(error)".replacingOccurrences(of: "\n", with: "; "))
                reloads.finished(.failure(.init(description: "\(error)")), answering: requests)
            }
        }
        return .done
    }

    func forwardSIGHUP() async -> Event {
        for await _ in await UnixSignalsSequence(trapping: .sighup) { reloads.fire("SIGHUP") }
        return .done
    }

    /// Checks the configuration and rule files every `config_check_interval` and reloads on a
    /// change (a ConfigMap's symlink swap included). A change whose reload failed is not retried
    /// until the files change again.
    func watchFiles(_ settings: DaemonSettings) async -> Event {
        guard let configured = settings.configCheckInterval, !settings.watchedFiles.isEmpty else { return .done }
        // No timer faster than the evaluation: at most as often as the shortest group interval.
        let every = max(configured, settings.groups.map { settings.interval(of: $0) }.min() ?? configured)
        while !Task.isCancelled {
            do { try await Task.sleep(for: every) } catch { break }
            let now = FileWatch(paths: settings.watchedFiles)
            guard let before = reloads.lastAttempted, now != before else { continue }
            reloads.attempted(now)
            let changed = now.stamps.filter { before.stamps[$0.key] != $0.value }.keys.sorted()
            logger.info("configuration or rule files changed; reloading", metadata: ["files": "\(changed.joined(separator: ","))"])
            reloads.fire("file change")
        }
        return .done
    }
}
