import Foundation

/// The active instances of every rule at one time, for the state store.
public struct EngineSnapshot: Sendable, Codable, Equatable {
    /// The time of the last evaluation before the snapshot (Prometheus's "down at").
    public var takenAt: Date
    /// Instances by rule identity (`AlertRule.identity`).
    public var rules: [String: [AlertInstance]]

    public init(takenAt: Date, rules: [String: [AlertInstance]]) {
        self.takenAt = takenAt
        self.rules = rules
    }
}

/// Prometheus's for-state restoration settings (`--rules.alert.for-outage-tolerance`,
/// `--rules.alert.for-grace-period`).
public struct RestoreOptions: Sendable {
    /// A snapshot older than this is ignored: the outage was too long to trust old clocks.
    public var outageTolerance: Duration = .seconds(3600)
    /// The least time an alert restored mid-`for` still waits before firing.
    public var forGracePeriod: Duration = .seconds(600)

    public init(outageTolerance: Duration = .seconds(3600), forGracePeriod: Duration = .seconds(600)) {
        self.outageTolerance = outageTolerance
        self.forGracePeriod = forGracePeriod
    }
}

extension RuleEngine {
    public func snapshot(at time: Date) -> EngineSnapshot {
        var rules: [String: [AlertInstance]] = [:]
        for group in groups {
            for state in group.rules where !state.active.isEmpty {
                rules[state.rule.identity, default: []] += state.active.values.filter { $0.state != .inactive }
            }
        }
        return EngineSnapshot(takenAt: time, rules: rules)
    }

    /// Restores `for` clocks after a restart, as Prometheus's `RestoreForState` does after the
    /// first evaluation at `time`: each instance active now that was active before keeps its
    /// old `activeAt` if it had already served its `for`; one with less than the grace period
    /// left is pushed to fire one grace period from now; otherwise its clock is moved forward
    /// by the downtime. Pending instances of rules whose `for` is shorter than the grace
    /// period start afresh.
    /// Beyond Prometheus, a restored instance keeps `lastSentAt`, and one that was firing
    /// and had served its `for` stays firing with its `firedAt`: a restart neither resets a
    /// `for` clock nor fires again.
    ///
    /// Returns the fingerprints of the instances restored: the transitions the first
    /// evaluation reported for them are continuations, not news.
    @discardableResult
    public mutating func restore(from snapshot: EngineSnapshot, at time: Date,
                                 options: RestoreOptions = RestoreOptions()) -> Set<UInt64> {
        let downAt = snapshot.takenAt
        guard time.timeIntervalSince(downAt) <= options.outageTolerance.seconds else { return [] }
        let grace = options.forGracePeriod.seconds
        var restored: Set<UInt64> = []
        for groupIndex in groups.indices {
            for ruleIndex in groups[groupIndex].rules.indices {
                let rule = groups[groupIndex].rules[ruleIndex].rule
                let hold = rule.holdDuration.seconds
                guard let previous = snapshot.rules[rule.identity] else { continue }
                let byFingerprint = Dictionary(previous.map { ($0.fingerprint, $0) }, uniquingKeysWith: { first, _ in first })
                for (fingerprint, var alert) in groups[groupIndex].rules[ruleIndex].active where alert.state != .inactive {
                    guard let old = byFingerprint[fingerprint], old.state != .inactive else { continue }
                    // As Prometheus, a rule whose `for` is shorter than the grace period
                    // restarts its pending clocks; a firing instance still stays firing.
                    if hold < grace && old.state != .firing { continue }
                    var activeAt = old.activeAt
                    let remaining = hold - downAt.timeIntervalSince(activeAt)
                    if remaining <= 0 {
                        // It had served its `for`. Prometheus lets the next evaluation fire it
                        // again; meshwatchd keeps it firing with its original firedAt, so no
                        // consumer sees a new firing for an alert that never stopped.
                        if old.state == .firing {
                            alert.state = .firing
                            alert.firedAt = old.firedAt
                        }
                    } else if remaining < grace {
                        activeAt = time.addingTimeInterval(grace - hold)
                    } else {
                        activeAt = activeAt.addingTimeInterval(time.timeIntervalSince(downAt))
                    }
                    alert.activeAt = activeAt
                    alert.lastSentAt = old.lastSentAt
                    groups[groupIndex].rules[ruleIndex].active[fingerprint] = alert
                    restored.insert(fingerprint)
                }
            }
        }
        return restored
    }
}

extension RuleEngine {
    /// Takes over the instances of rules that did not change (same group name, same rule
    /// identity) from `previous`, as a reload should: alerts of untouched rules keep their
    /// clocks. Returns how many instances were carried over.
    @discardableResult
    public mutating func adoptState(from previous: RuleEngine) -> Int {
        var adopted = 0
        for groupIndex in groups.indices {
            guard let old = previous.groups.first(where: { $0.group.name == groups[groupIndex].group.name }) else { continue }
            for ruleIndex in groups[groupIndex].rules.indices {
                let identity = groups[groupIndex].rules[ruleIndex].rule.identity
                guard let oldRule = old.rules.first(where: { $0.rule.identity == identity }) else { continue }
                groups[groupIndex].rules[ruleIndex].active = oldRule.active
                adopted += oldRule.active.count
            }
        }
        return adopted
    }
}

extension RuleEngine {
    /// After the first evaluation following a start, the instances that were firing before
    /// the restart and are no longer active: resolved now (so every sink that heard the firing
    /// hears the resolve), or, for a rule with `keep_firing_for`, kept firing for that long
    /// counted from this evaluation. Only rules whose evaluation succeeded are reconciled: a
    /// failed query never resolves. The instances keep their stored `activeAt` and `firedAt`,
    /// so the resolve's finding id is the one it would have had without the restart.
    public mutating func resolveVanished(from snapshot: EngineSnapshot, at time: Date) -> [AlertTransition] {
        // However long the outage: a firing that went out must get its resolve.
        var transitions: [AlertTransition] = []
        for groupIndex in groups.indices {
            for ruleIndex in groups[groupIndex].rules.indices {
                let state = groups[groupIndex].rules[ruleIndex]
                guard state.health == .ok, let previous = snapshot.rules[state.rule.identity] else { continue }
                for old in previous where old.state == .firing && state.active[old.fingerprint] == nil {
                    var instance = old
                    if state.rule.keepFiringFor > .zero {
                        instance.keepFiringSince = time
                    } else {
                        instance.state = .inactive
                        instance.resolvedAt = time
                        transitions.append(AlertTransition(kind: .resolved, group: state.group, rule: state.rule.name, instance: instance, at: time))
                    }
                    groups[groupIndex].rules[ruleIndex].active[old.fingerprint] = instance
                }
            }
        }
        return transitions
    }
}
