import GoTemplate
import Foundation
import MetricModel

/// The state of an alert instance, in Prometheus's words.
public enum AlertState: String, Sendable, Codable, Comparable {
    case inactive, pending, firing

    public static func < (lhs: AlertState, rhs: AlertState) -> Bool {
        let order: [AlertState] = [.inactive, .pending, .firing]
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }
}

/// One alert instance: a rule's labels merged over one returned series.
public struct AlertInstance: Sendable, Codable, Equatable {
    public var labels: Labels
    public var annotations: Labels
    public var state: AlertState
    public var value: Double
    /// When the instance first went pending in this episode.
    public var activeAt: Date
    public var firedAt: Date?
    public var resolvedAt: Date?
    public var lastSentAt: Date?
    /// When the series vanished while firing, for `keep_firing_for`.
    public var keepFiringSince: Date?

    public var fingerprint: UInt64 { labels.fingerprint }

    /// Whether a notifier should send this instance now (Prometheus's `needsSending`):
    /// never while pending; at once after a resolve not yet sent; otherwise once
    /// `resendDelay` has passed since the last send.
    public func needsSending(at time: Date, resendDelay: Duration) -> Bool {
        if state == .pending { return false }
        if let resolvedAt, resolvedAt > (lastSentAt ?? .distantPast) { return true }
        guard let lastSentAt else { return true }
        return lastSentAt.addingTimeInterval(resendDelay.seconds) < time
    }

    enum CodingKeys: String, CodingKey {
        case labels, annotations, state, value, activeAt, firedAt, resolvedAt, lastSentAt, keepFiringSince
    }

    public init(labels: Labels, annotations: Labels, state: AlertState, value: Double, activeAt: Date,
                firedAt: Date? = nil, resolvedAt: Date? = nil, lastSentAt: Date? = nil, keepFiringSince: Date? = nil) {
        self.labels = labels
        self.annotations = annotations
        self.state = state
        self.value = value
        self.activeAt = activeAt
        self.firedAt = firedAt
        self.resolvedAt = resolvedAt
        self.lastSentAt = lastSentAt
        self.keepFiringSince = keepFiringSince
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        labels = Labels(try container.decode([String: String].self, forKey: .labels))
        annotations = Labels(try container.decode([String: String].self, forKey: .annotations))
        state = try container.decode(AlertState.self, forKey: .state)
        // JSON has no NaN: values travel as Go-style strings.
        value = Double(try container.decode(String.self, forKey: .value).replacingOccurrences(of: "+Inf", with: "inf")) ?? .nan
        activeAt = try container.decode(Date.self, forKey: .activeAt)
        firedAt = try container.decodeIfPresent(Date.self, forKey: .firedAt)
        resolvedAt = try container.decodeIfPresent(Date.self, forKey: .resolvedAt)
        lastSentAt = try container.decodeIfPresent(Date.self, forKey: .lastSentAt)
        keepFiringSince = try container.decodeIfPresent(Date.self, forKey: .keepFiringSince)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }), forKey: .labels)
        try container.encode(Dictionary(annotations.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }), forKey: .annotations)
        try container.encode(state, forKey: .state)
        try container.encode(GoFormat.float(value), forKey: .value)
        try container.encode(activeAt, forKey: .activeAt)
        try container.encodeIfPresent(firedAt, forKey: .firedAt)
        try container.encodeIfPresent(resolvedAt, forKey: .resolvedAt)
        try container.encodeIfPresent(lastSentAt, forKey: .lastSentAt)
        try container.encodeIfPresent(keepFiringSince, forKey: .keepFiringSince)
    }

    /// The JSON `encode(to:)` writes with `JSONEncoder`'s default settings (dates as seconds
    /// since 2001), written by hand: the store saves every instance of a group each cycle, and
    /// `JSONEncoder` cost ~140,000 instructions per instance. `JSONDecoder` reads it back the same.
    public func stateJSON() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: #"{"labels":"#.utf8)
        JSONText.appendObject(labels.lazy.map { ($0.name, $0.value) }, to: &out)
        out.append(contentsOf: #","annotations":"#.utf8)
        JSONText.appendObject(annotations.lazy.map { ($0.name, $0.value) }, to: &out)
        out.append(contentsOf: #","state":"#.utf8)
        JSONText.appendString(state.rawValue, to: &out)
        out.append(contentsOf: #","value":"#.utf8)
        JSONText.appendString(GoFormat.float(value), to: &out)
        for (name, date) in [("activeAt", activeAt as Date?), ("firedAt", firedAt), ("resolvedAt", resolvedAt),
                             ("lastSentAt", lastSentAt), ("keepFiringSince", keepFiringSince)] {
            guard let date else { continue }
            out.append(contentsOf: ",\"\(name)\":".utf8)
            guard JSONText.appendEncoderNumber(date.timeIntervalSinceReferenceDate, to: &out) else {
                // The number, not the date: describing a NaN `Date` traps in Foundation.
                throw EncodingError.invalidValue(date.timeIntervalSinceReferenceDate,
                                                 .init(codingPath: [CodingKeys(stringValue: name)!], debugDescription: "a date JSON cannot hold"))
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func == (lhs: AlertInstance, rhs: AlertInstance) -> Bool {
        lhs.labels == rhs.labels && lhs.annotations == rhs.annotations && lhs.state == rhs.state
            && (lhs.value == rhs.value || lhs.value.isNaN && rhs.value.isNaN) && lhs.activeAt == rhs.activeAt
            && lhs.firedAt == rhs.firedAt && lhs.resolvedAt == rhs.resolvedAt && lhs.lastSentAt == rhs.lastSentAt
            && lhs.keepFiringSince == rhs.keepFiringSince
    }
}

extension Duration {
    /// The duration in seconds, for date arithmetic.
    public var seconds: TimeInterval {
        let (whole, fraction) = components
        return TimeInterval(whole) + TimeInterval(fraction) / 1e18
    }
}
