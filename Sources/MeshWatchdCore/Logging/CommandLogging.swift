import ArgumentParser
import Logging

/// Logging for the one-shot commands: plain lines on stderr, so stdout stays the report.
package func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
