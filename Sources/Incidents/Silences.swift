import Foundation

/// A silence, as Alertmanager has them: label matchers and a time window. While one matches an
/// alert, no sink hears of it except Alertmanager sinks, which receive the alert together with
/// the silence (forwarded to that Alertmanager), so Alertmanager's own page shows it suppressed.
public struct Silence: Codable, Sendable, Equatable {
    /// A UUID, as Alertmanager's.
    public var id: String
    /// Alertmanager's matcher syntax (`namespace="payments"`, `alertname=~"Istio.*"`); every one must match.
    public var matchers: [String]
    public var startsAt: Date
    public var endsAt: Date
    public var createdBy: String
    public var comment: String
    /// Set when it was expired before its end (by `silence expire` or the page).
    public var expiredBy: String?

    /// Longest a matcher list, a comment or an author may be: the silence is kept in a ConfigMap.
    public static let maxTextLength = 1024
    public static let maxMatchers = 32

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// A new silence, checked: at least one matcher, each parsed; an end after its start; an author.
    public init(id: String = UUID().uuidString.lowercased(), matchers: [String], startsAt: Date, endsAt: Date,
                createdBy: String, comment: String) throws(Invalid) {
        guard !matchers.isEmpty else { throw Invalid(description: "a silence needs at least one matcher") }
        guard matchers.count <= Self.maxMatchers else { throw Invalid(description: "at most \(Self.maxMatchers) matchers") }
        var parsed: [LabelMatcher] = []
        for text in matchers {
            guard text.utf8.count <= Self.maxTextLength else { throw Invalid(description: "a matcher may not exceed \(Self.maxTextLength) bytes") }
            do { parsed.append(try LabelMatcher(parsing: text)) } catch { throw Invalid(description: error.description) }
        }
        // Alertmanager refuses a silence that would match every alert (all matchers match "").
        guard !parsed.allSatisfy({ $0.matches([:]) }) else {
            throw Invalid(description: "at least one matcher must not match the empty string (this silence would silence every alert)")
        }
        guard endsAt > startsAt else { throw Invalid(description: "the end must come after the start") }
        let author = createdBy.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !author.isEmpty else { throw Invalid(description: "a silence needs an author (created_by)") }
        guard author.utf8.count <= 256, comment.utf8.count <= Self.maxTextLength else {
            throw Invalid(description: "the author may not exceed 256 bytes, the comment \(Self.maxTextLength)")
        }
        guard !id.isEmpty, id.utf8.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw Invalid(description: "a silence id is letters, digits and dashes")
        }
        self.id = id
        self.matchers = parsed.map(\.description)
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.createdBy = author
        self.comment = comment
    }

    enum CodingKeys: String, CodingKey { case id, matchers, startsAt, endsAt, createdBy, comment, expiredBy }

    /// Read back (the state file, the cluster's ConfigMap) with the same checks as a new one: a
    /// silence without matchers, or one matching every alert, would mute every sink. An expired
    /// one may end at its start (expired before it began).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let startsAt = try container.decode(Date.self, forKey: .startsAt)
        let endsAt = try container.decode(Date.self, forKey: .endsAt)
        do {
            try self.init(id: try container.decode(String.self, forKey: .id), matchers: try container.decode([String].self, forKey: .matchers),
                          startsAt: startsAt, endsAt: max(endsAt, startsAt.addingTimeInterval(0.001)),
                          createdBy: try container.decode(String.self, forKey: .createdBy),
                          comment: try container.decodeIfPresent(String.self, forKey: .comment) ?? "")
        } catch let error as Invalid {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid silence: \(error.description)"))
        }
        self.endsAt = endsAt
        expiredBy = try container.decodeIfPresent(String.self, forKey: .expiredBy)
    }

    /// `active` between start and end, `pending` before, `expired` after.
    public func status(at time: Date) -> String {
        time < startsAt ? "pending" : (time < endsAt ? "active" : "expired")
    }

    public func isActive(at time: Date) -> Bool { startsAt <= time && time < endsAt }

    /// Whether every matcher matches the labels (a matcher that no longer parses matches nothing).
    public func matches(_ labels: [String: String]) -> Bool {
        matchers.allSatisfy { text in (try? LabelMatcher(parsing: text))?.matches(labels) ?? false }
    }

    /// The comment Alertmanager shows, tagged so a forwarded silence is found again and not posted twice.
    public var forwardedComment: String { "\(comment) [meshwatchd silence \(id)]" }
}

/// Someone said "I have this": reminders and escalation stop for the alert until it resolves.
public struct Acknowledgement: Codable, Sendable, Equatable {
    public var by: String
    public var at: Date
    public var comment: String

    public init(by: String, at: Date, comment: String = "") {
        self.by = by
        self.at = at
        self.comment = comment
    }

    /// `alice at 2026-12-05T08:00:00.000Z: on it`
    public var line: String {
        "\(by) at \(Finding.timestamp(at))" + (comment.isEmpty ? "" : ": \(comment)")
    }
}
