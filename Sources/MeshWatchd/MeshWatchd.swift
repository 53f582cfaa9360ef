import ArgumentParser
import Foundation
import Logging

@main
struct MeshWatchd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshwatchd",
        abstract: "The on-call engineer's first five minutes for an Istio mesh, automated.",
        discussion: """
            meshwatchd polls Prometheus, evaluates the mesh alert rules, runs the matching \
            diagnostic runbook and reports findings. This build provides the one-shot mesh \
            health check and a self-contained demo; the daemon arrives in later releases.
            """,
        version: "0.1.0",
        subcommands: [RunCommand.self, CheckConfigCommand.self, HealthCommand.self, EvalCommand.self, ReplayCommand.self, RulesCommand.self,
                      RunbooksCommand.self, DiagnoseCommand.self, DemoCommand.self]
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
