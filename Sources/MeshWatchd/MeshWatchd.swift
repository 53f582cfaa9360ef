import ArgumentParser
import Foundation
import Logging

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
            commands for the on-call engineer; `demo` replays a generated incident through all of it. \
            See meshwatchd(8) and the README for the configuration file.
            """,
        version: "0.1.0",
        subcommands: [RunCommand.self, CheckConfigCommand.self, HealthCommand.self, EvalCommand.self, ReplayCommand.self, RulesCommand.self,
                      RunbooksCommand.self, DiagnoseCommand.self, LedgerCommand.self, DemoCommand.self]
    )
}

/// Logging for the one-shot commands: plain lines on stderr, so stdout stays the report.
func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
