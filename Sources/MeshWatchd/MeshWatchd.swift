import ArgumentParser
import Foundation
import MeshWatchdCore

@main
struct MeshWatchd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshwatchd",
        abstract: "The on-call engineer's first five minutes for an Istio mesh, automated.",
        discussion: """
            meshwatchd polls Prometheus, evaluates the mesh alert rules (Prometheus rule files \
            and the built-in Istio pack), runs the matching diagnostic runbook against Prometheus \
            and the Kubernetes API, and delivers one self-contained finding per alert to \
            webhooks, Alertmanager, Slack and PagerDuty, with reminders and escalation. `run` is \
            the daemon; `health`, `eval`, `replay`, `diagnose` and `runbooks` are one-shot \
            commands for the on-call engineer (`meshwatchd-demo`, a separate program, replays a generated incident through all of it). \
            See meshwatchd(8) and the README for the configuration file.
            """,
        version: BuildInfo.version,
        subcommands: [RunCommand.self, CheckConfigCommand.self, HealthCommand.self, AnalyzeCommand.self, ReportCommand.self, EvalCommand.self, ReplayCommand.self, RulesCommand.self,
                      RunbooksCommand.self, DiagnoseCommand.self, LedgerCommand.self, AckCommand.self, SilenceCommand.self,
                      HashPasswordCommand.self]
    )

    /// The allocator and the threads tasks run on are set up before anything else runs
    /// (MallocTuning, TaskPool, the listener's one event loop), then the command.
    static func main() async {
        let environment = ProcessInfo.processInfo.environment
        MallocTuning.apply(environment: environment)
        StatusServer.limitEventLoops(environment: environment)
        if !TaskPool.installAsDefault() {
            // Swift's own pool still runs everything; only the idle wake-ups differ.
            FileHandle.standardError.write(Data("meshwatchd: warning: the task threads could not start (\(String(cString: strerror(errno)))): tasks run on Swift's default pool\n".utf8))
        }
        await main(nil)
    }
}
