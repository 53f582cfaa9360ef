import Foundation
import Logging

/// How the daemon's logs leave the process.
enum LogFormat: String, Sendable {
    case auto, json, text, journald

    /// `auto`: journald when systemd connected stdout to the journal (`JOURNAL_STREAM`
    /// names stdout's device and inode), JSON lines otherwise.
    func resolved(environment: [String: String]) -> LogFormat {
        guard self == .auto else { return self }
        guard let stream = environment["JOURNAL_STREAM"] else { return .json }
        var info = stat()
        guard fstat(STDOUT_FILENO, &info) == 0 else { return .json }
        return stream == "\(info.st_dev):\(info.st_ino)" ? .journald : .json
    }
}

/// Installs the process's log handler. Only the executable does this (STYLE.md).
func bootstrapDaemonLogging(format: LogFormat, level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        switch format {
        case .journald:
            var handler = JournalLogHandler(label: label)
            handler.logLevel = level
            return handler
        case .text:
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        case .json, .auto:
            var handler = JSONLineLogHandler(label: label, sink: .standardOutput)
            handler.logLevel = level
            return handler
        }
    }
}
