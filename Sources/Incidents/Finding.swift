import GoTemplate
import AlertModel
import Foundation
import MetricModel

/// One self-contained document per alert transition: what fired (or resolved), what the
/// runbook found, what was decided, and where to look. Versioned by `schema`.
public struct Finding: Codable, Sendable, Equatable {
    public static let schemaVersion = "meshwatchd.finding/v1"

    public enum Kind: String, Codable, Sendable {
        case firing, resolved
        /// Still firing: sent again every repeat interval.
        case reminder
        /// Still firing and now at a higher escalation level (by time or an emergency).
        case escalated
        /// Someone took it: every sink that heard of the alert is told who.
        case acknowledged
    }

    public struct Alert: Codable, Sendable, Equatable {
        public var name: String
        public var group: String
        public var fingerprint: String
        public var state: String
        public var labels: [String: String]
        public var annotations: [String: String]
        /// The value as Go formats it (`0.12`, `NaN`), so JSON stays valid for any value.
        public var value: String
        public var activeAt: Date
        public var firedAt: Date?
        public var resolvedAt: Date?
        /// Where the alert's expression can be seen (Prometheus's graph link), when an external URL is configured.
        public var generatorURL: String?

        /// As `Finding.encoded()` writes it: keys sorted, absent times left out.
        func append(to out: inout [UInt8]) {
            func string(_ key: String, _ value: String) {
                JSONText.appendKey(key, to: &out)
                JSONText.appendString(value, to: &out)
            }
            out.append(UInt8(ascii: "{"))
            string("activeAt", Finding.timestamp(activeAt))
            JSONText.appendKey("annotations", to: &out)
            JSONText.appendObject(annotations.lazy.map { ($0.key, $0.value) }, to: &out)
            string("fingerprint", fingerprint)
            if let firedAt { string("firedAt", Finding.timestamp(firedAt)) }
            if let generatorURL { string("generatorURL", generatorURL) }
            string("group", group)
            JSONText.appendKey("labels", to: &out)
            JSONText.appendObject(labels.lazy.map { ($0.key, $0.value) }, to: &out)
            string("name", name)
            if let resolvedAt { string("resolvedAt", Finding.timestamp(resolvedAt)) }
            string("state", state)
            string("value", value)
            out.append(UInt8(ascii: "}"))
        }
    }

    public var schema: String
    /// Stable for this finding: receivers use it (also sent as `Idempotency-Key`) to drop repeats.
    public var id: String
    public var kind: Kind
    public var alert: Alert
    public var severity: String
    public var escalationLevel: Int
    /// The runbook's findings as short lines the sinks show (target, then a line per step).
    public var evidence: [String]
    /// The runbook's evidence in full: target, per step its status, lines and data.
    public var diagnostics: JSONValue?
    /// The remediation decision in one line (`TAKEN: rollout_undo …`, `REFUSED by cooldown: …`)
    /// and, after verification, whether the alert recovered.
    public var remediation: String?
    /// The decision in full: outcome, action, workload, the guard that decided, reason, change.
    public var decision: JSONValue?
    /// Runbook, dashboard and trace links, templated from configuration.
    public var links: [String: String]
    public var generatedAt: Date
    /// The sink's message template, rendered (a webhook sink with `template` sends it here).
    public var message: String?
    /// Who acknowledged the alert, once someone has.
    public var acknowledgement: Acknowledgement?
    /// The silences that match the alert (only Alertmanager sinks receive a silenced alert,
    /// and forward these to their Alertmanager).
    public var silences: [Silence]?

    /// The finding for one transition. `reminder` numbers the repeats of a still-firing alert.
    public init(transition: AlertTransition, kind: Kind, reminder: Int = 0, escalationLevel: Int = 1,
                links: [String: String] = [:], generatedAt: Date) {
        let instance = transition.instance
        let fingerprint = String(instance.fingerprint, radix: 16)
        alert = Alert(name: transition.rule, group: transition.group, fingerprint: fingerprint, state: instance.state.rawValue,
                      labels: Dictionary(instance.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }),
                      annotations: Dictionary(instance.annotations.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }),
                      value: GoFormat.float(instance.value), activeAt: instance.activeAt, firedAt: instance.firedAt,
                      resolvedAt: instance.resolvedAt)
        schema = Self.schemaVersion
        self.kind = kind
        severity = instance.labels["severity"] ?? "none"
        self.escalationLevel = escalationLevel
        evidence = []
        remediation = nil
        self.links = links
        self.generatedAt = generatedAt
        // The same transition always yields the same id, however often it is built or sent.
        let episode = "\(transition.group)\u{0}\(fingerprint)\u{0}\(instance.activeAt.timeIntervalSince1970)"
        id = Digest.sha256Hex("\(episode)\u{0}\(kind.rawValue)\u{0}\(reminder)")
    }

    /// The finding as sent: JSON with sorted keys, RFC 3339 times with milliseconds
    /// (`.iso8601` alone would drop them, and with them the order of events within a second).
    /// Written by hand, byte for byte what `encoderBytes` (`JSONEncoder`) writes — tests compare
    /// the two over random findings: `JSONEncoder` spent about 800 instructions per byte here,
    /// and every transition's finding is encoded twice (queued, then with its evidence).
    public func encoded() throws -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(2048)
        func string(_ key: String, _ value: String) {
            JSONText.appendKey(key, to: &out)
            JSONText.appendString(value, to: &out)
        }
        // The keys in `.sortedKeys` order (UTF-8 bytes); absent optionals are left out, as
        // the synthesized `encode(to:)` leaves them.
        if let acknowledgement {
            JSONText.appendKey("acknowledgement", to: &out)
            out.append(contentsOf: try Self.encoderBytes(acknowledgement))
        }
        JSONText.appendKey("alert", to: &out)
        alert.append(to: &out)
        if let decision {
            JSONText.appendKey("decision", to: &out)
            try decision.appendJSON(to: &out, depth: 1)
        }
        if let diagnostics {
            JSONText.appendKey("diagnostics", to: &out)
            try diagnostics.appendJSON(to: &out, depth: 1)
        }
        JSONText.appendKey("escalationLevel", to: &out)
        out.append(contentsOf: String(escalationLevel).utf8)
        JSONText.appendKey("evidence", to: &out)
        JSONText.appendArray(evidence, to: &out)
        string("generatedAt", Self.timestamp(generatedAt))
        string("id", id)
        string("kind", kind.rawValue)
        JSONText.appendKey("links", to: &out)
        JSONText.appendObject(links.lazy.map { ($0.key, $0.value) }, to: &out)
        if let message { string("message", message) }
        if let remediation { string("remediation", remediation) }
        string("schema", schema)
        string("severity", severity)
        if let silences {
            JSONText.appendKey("silences", to: &out)
            out.append(contentsOf: try Self.encoderBytes(silences))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `JSONEncoder`'s text for `value` with the finding's settings: the reference `encoded()`
    /// is tested against, and the writer of the parts that are rarely present (silences, an
    /// acknowledgement).
    public static func encoderBytes(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.timestamp(date))
        }
        return Array(try encoder.encode(value))
    }

    /// Reads a finding as `encoded()` writes it (RFC 3339 times). Through `JSONValue`'s parser
    /// and tree decoder, not `JSONDecoder`: the sinks decode each finding they send, and
    /// `JSONDecoder` spent a thousand instructions per byte on the diagnostics' `JSONValue`s.
    public static func decode(_ bytes: [UInt8]) throws -> Finding {
        try JSONValue.parse(bytes).decode(Finding.self, date: { parseTimestamp($0) })
    }

    public static func timestamp(_ date: Date) -> String {
        RFC3339.string(date, .milliseconds)
    }

    public static func parseTimestamp(_ text: String) -> Date? {
        RFC3339.date(text)
    }
}

extension Finding {
    /// The finding's links for people: the runbook first, then by name, each with a title
    /// (`runbook` → Runbook, `dashboard_url` → Dashboard).
    public static func orderedLinks(_ finding: Finding) -> [(title: String, url: String)] {
        finding.links.sorted { ($0.key == "runbook" ? 0 : 1, $0.key) < ($1.key == "runbook" ? 0 : 1, $1.key) }.map { name, url in
            let words = (name.hasSuffix("_url") ? String(name.dropLast(4)) : name).split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }
            return (words.joined(separator: " "), url)
        }
    }
}
