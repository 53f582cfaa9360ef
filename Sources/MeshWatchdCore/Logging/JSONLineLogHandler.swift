import Foundation
import Logging
import MetricModel
import Synchronization

/// One JSON object per line: `ts`, `level`, `msg`, `logger`, then the metadata keys
/// (dotted, as STYLE.md names them: `rule.name`, `alert.fingerprint`, …), typed: counts and
/// values as JSON numbers (a non-finite value as Go prints it, `"NaN"`, `"+Inf"`), flags as
/// booleans, label sets as objects. For stdout in a pod, or anything that ships JSON lines.
struct JSONLineLogHandler: LogHandler {
    let label: String
    let sink: LineSink
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", Self.quote(Self.timestamp(Date()))), ("level", Self.quote("\(event.level)")), ("msg", Self.quote("\(event.message)")),
            ("logger", Self.quote(label)),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() where !["ts", "level", "msg", "logger"].contains(key) {
            fields.append((key, Self.json(merged[key]!)))
        }
        sink.write("{" + fields.map { "\(Self.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}\n")
    }

    /// A metadata value as JSON, by its type.
    static func json(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): return quote(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let flag as Bool: return flag ? "true" : "false"
            case let number as Int: return String(number)
            case let number as Int64: return String(number)
            case let number as UInt64: return String(number)
            case let number as UInt: return String(number)
            case let number as Double:
                if number.isNaN { return quote("NaN") }
                if number.isInfinite { return quote(number > 0 ? "+Inf" : "-Inf") }
                return "\(number)"
            default: return quote("\(convertible)")
            }
        case .dictionary(let dictionary):
            return "{" + dictionary.keys.sorted().map { quote($0) + ":" + json(dictionary[$0]!) }.joined(separator: ",") + "}"
        case .array(let array):
            return "[" + array.map(json).joined(separator: ",") + "]"
        }
    }

    /// RFC 3339 with milliseconds, in UTC (by arithmetic: `ISO8601DateFormatter` builds an ICU
    /// date format per call and keeps ICU's data resident).
    static func timestamp(_ date: Date) -> String {
        RFC3339.string(date, .milliseconds)
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Where log lines go: a file descriptor, written whole under a lock so lines from
/// concurrent tasks never interleave.
final class LineSink: Sendable {
    private let descriptor: Int32
    private let lock = Mutex(())

    init(descriptor: Int32) { self.descriptor = descriptor }

    static let standardOutput = LineSink(descriptor: STDOUT_FILENO)
    static let standardError = LineSink(descriptor: STDERR_FILENO)

    func write(_ line: String) {
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
                if written <= 0 { if errno == EINTR { continue }; return }
                offset += written
            }
            bytes.removeAll()
        }
    }
}
