import MetricModel
import AlertEngine

/// A duration setting (`30s`, `5m`, `1h30m`), decoded once into a typed value. Any text
/// decodes, so that a wrong one is listed by `Configuration.problems(file:)` with every other
/// problem instead of stopping the decoding; the code that decides reads `value`.
struct ConfigDuration: Decodable, Sendable, Equatable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// As written.
    let text: String
    /// Nil for text that is not a Prometheus duration (which a validated configuration has not).
    let value: Duration?

    init(_ text: String) {
        self.text = text
        value = PrometheusDuration.parse(text)
    }

    init(stringLiteral text: String) { self.init(text) }

    init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    var description: String { text }
}
