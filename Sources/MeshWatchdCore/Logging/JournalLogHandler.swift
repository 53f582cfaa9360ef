import CSystemd
import Foundation
import Logging

/// Sends each entry to journald with `sd_journal_sendv`: `MESSAGE`, `PRIORITY`,
/// `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC` (journald's own source fields),
/// `MESHWATCHD_LOGGER`, and every metadata key as a field of its own — `rule.name` becomes
/// `MESHWATCHD_RULE_NAME` — so `journalctl MESHWATCHD_RULE_NAME=…` finds it.
struct JournalLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        // No journal to take it (no socket, journald gone): the line goes to stderr as JSON,
        // never nowhere.
        guard Self.send(Self.fields(event, label: label, metadata: metadata)) else {
            var fallback = JSONLineLogHandler(label: label, sink: .standardError)
            fallback.metadata = metadata
            fallback.log(event: event)
            return
        }
    }

    static func fields(_ event: LogEvent, label: String, metadata: Logger.Metadata) -> [String] {
        var fields = [
            "MESSAGE=\(event.message)", "PRIORITY=\(Self.priority(event.level))", "SYSLOG_IDENTIFIER=meshwatchd",
            "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)", "CODE_FUNC=\(event.function)", "MESHWATCHD_LOGGER=\(label)",
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            // A label set as JSON (`{"alertname":"…"}`), a value as text.
            if case .dictionary = value {
                fields.append("\(Self.fieldName(key))=\(JSONLineLogHandler.json(value))")
            } else {
                fields.append("\(Self.fieldName(key))=\(value)")
            }
        }
        return fields
    }

    /// `rule.name` → `MESHWATCHD_RULE_NAME`: journal field names are upper-case letters,
    /// digits and underscores.
    static func fieldName(_ key: String) -> String {
        "MESHWATCHD_" + String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// syslog priorities, as journald expects.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// journald's socket: libsystemd drops entries silently when it is missing, so its
    /// presence is checked before each send.
    static let socketPath = "/run/systemd/journal/socket"

    /// True when journald took the entry.
    static func send(_ fields: [String]) -> Bool {
        guard access(socketPath, F_OK) == 0 else { return false }
        // One buffer per field, owned here until sd_journal_sendv returns.
        let buffers = fields.map { field -> UnsafeMutableRawBufferPointer in
            let bytes = Array(field.utf8)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            buffer.copyBytes(from: bytes)
            return UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: bytes.count)
        }
        defer { buffers.forEach { $0.deallocate() } }
        var vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        return mw_sd_journal_sendv(&vectors, Int32(vectors.count)) >= 0
    }
}
