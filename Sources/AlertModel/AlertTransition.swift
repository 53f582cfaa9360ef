import Foundation

/// A change of one instance's state in one evaluation, for notification and for replay's
/// timeline.
public struct AlertTransition: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// A new instance started pending.
        case pending
        /// The instance fired (from pending, or at once when `for` is 0).
        case firing
        /// A firing instance's series is gone (past `keep_firing_for`).
        case resolved
        /// A pending instance's series vanished before it fired; it is dropped.
        case inactive
    }

    public var kind: Kind
    public var group: String
    public var rule: String
    public var instance: AlertInstance
    public var at: Date

    public init(kind: Kind, group: String, rule: String, instance: AlertInstance, at: Date) {
        self.kind = kind
        self.group = group
        self.rule = rule
        self.instance = instance
        self.at = at
    }
}
