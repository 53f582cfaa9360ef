import Foundation
import MetricModel

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
        let withinTolerance = time.timeIntervalSince(downAt) <= options.outageTolerance.seconds
        let grace = options.forGracePeriod.seconds
        var restored: Set<UInt64> = []
        let claimed = ruleIdentities
        let names = ruleNameCounts
        for groupIndex in groups.indices {
            for ruleIndex in groups[groupIndex].rules.indices {
                let rule = groups[groupIndex].rules[ruleIndex].rule
                let hold = rule.holdDuration.seconds
                guard let previous = snapshot.instances(of: rule, claimed: claimed, nameShared: names[rule.name, default: 0] > 1) else { continue }
                let byFingerprint = Dictionary(previous.map { ($0.fingerprint, $0) }, uniquingKeysWith: { first, _ in first })
                for (fingerprint, var alert) in groups[groupIndex].rules[ruleIndex].active where alert.state != .inactive {
                    guard let old = byFingerprint[fingerprint], old.state != .inactive else { continue }
                    if old.state == .firing {
                        // It had fired and still matches: it stays firing with its clocks, however
                        // long the outage and whatever `for` says now (a reload would not demote
                        // it either), so no consumer sees a new firing for an alert that never stopped.
                        alert.state = .firing
                        alert.activeAt = old.activeAt
                        alert.firedAt = old.firedAt
                        alert.lastSentAt = old.lastSentAt
                        groups[groupIndex].rules[ruleIndex].active[fingerprint] = alert
                        restored.insert(fingerprint)
                        continue
                    }
                    // A pending clock is restored only within the outage tolerance, as Prometheus does.
                    guard withinTolerance else { continue }
                    // As Prometheus, a rule whose `for` is shorter than the grace period
                    // restarts its pending clocks.
                    if hold < grace { continue }
                    var activeAt = old.activeAt
                    let remaining = hold - downAt.timeIntervalSince(activeAt)
                    if remaining <= 0 {
                        // Pending and past its `for` at the snapshot: the next evaluation fires it.
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
    /// Takes over the instances of `previous` as a reload should, like Prometheus's
    /// `CopyState`: a rule keeps the instances of the rule with the same group, name and
    /// labels, so editing its expression, `for` or annotations neither resolves nor re-fires
    /// its alerts (a longer `for` applies to a pending instance's clock; a firing one stays
    /// firing). Instances of old rules that no new rule takes over (a label edit, a removed
    /// rule) and were firing are returned as resolved at `time`, so no incident stays open.
    public mutating func adoptState(from previous: RuleEngine, at time: Date) -> [AlertTransition] {
        var orphans: [AlertTransition] = []
        for old in previous.groups {
            let groupIndex = groups.firstIndex { $0.group.name == old.group.name }
            for oldRule in old.rules {
                let ruleIndex = groupIndex.flatMap { index in groups[index].rules.firstIndex { $0.rule.identity == oldRule.rule.identity } }
                if let groupIndex, let ruleIndex {
                    groups[groupIndex].rules[ruleIndex].active = oldRule.active
                    groups[groupIndex].rules[ruleIndex].writtenSeries = oldRule.writtenSeries
                } else {
                    orphans += Self.resolving(oldRule.active.values, group: old.group.name, rule: oldRule.rule.name, at: time)
                }
            }
        }
        return orphans
    }

    /// The series `previous`'s rules wrote (recorded series, ALERTS) that no rule of this engine
    /// takes over (removed or relabelled rules, removed groups): they need a staleness marker now,
    /// as Prometheus marks a stopped rule's series stale.
    public func endedSeries(from previous: RuleEngine) -> [Labels] {
        var kept: Set<String> = []
        for group in groups { for state in group.rules { kept.insert(group.group.name + "\u{0}" + state.rule.identity) } }
        return previous.groups.flatMap { group in
            group.rules.filter { !kept.contains(group.group.name + "\u{0}" + $0.rule.identity) }.flatMap { $0.writtenSeries.values }
        }
    }

    /// Every firing instance of every group, resolved at `time` (their groups are gone).
    public func resolveAll(at time: Date) -> [AlertTransition] {
        groups.flatMap { group in
            group.rules.flatMap { Self.resolving($0.active.values, group: group.group.name, rule: $0.rule.name, at: time) }
        }
    }

    /// The firing ones of `instances`, resolved at `time` with their clocks kept (so their
    /// resolve has the id it would have had anyway).
    static func resolving(_ instances: some Sequence<AlertInstance>, group: String, rule: String, at time: Date) -> [AlertTransition] {
        instances.filter { $0.state == .firing }.sorted { Labels.precedes($0.labels, $1.labels) }.map { old in
            var instance = old
            instance.state = .inactive
            instance.resolvedAt = time
            instance.keepFiringSince = nil
            return AlertTransition(kind: .resolved, group: group, rule: rule, instance: instance, at: time)
        }
    }
}

extension EngineSnapshot {
    /// The stored instances of `rule`: by its identity, or, for a snapshot written before
    /// identities were name and labels, by the entries of the same rule name that no current
    /// rule claims (`claimed`).
    /// (Only a rule whose name no other current rule shares may take entries by name.)
    func instances(of rule: AlertRule, claimed: Set<String>, nameShared: Bool) -> [AlertInstance]? {
        if let exact = rules[rule.identity] { return exact }
        guard !nameShared else { return nil }
        let prefix = rule.name + "/"
        let legacy = rules.filter { $0.key.hasPrefix(prefix) && !claimed.contains($0.key) }.sorted { $0.key < $1.key }
        return legacy.isEmpty ? nil : legacy.flatMap(\.value)
    }
}

extension RuleEngine {
    /// The identities of every current rule.
    var ruleIdentities: Set<String> { Set(groups.flatMap { $0.rules.map(\.rule.identity) }) }

    /// How many current rules bear each name.
    var ruleNameCounts: [String: Int] { groups.flatMap { $0.rules.map(\.rule.name) }.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

    /// After the first evaluation following a start, the instances that were firing before
    /// the restart and are no longer active: resolved now (so every sink that heard the firing
    /// hears the resolve), or, for a rule with `keep_firing_for`, kept firing for that long
    /// counted from this evaluation. Only rules whose evaluation succeeded are reconciled: a
    /// failed query never resolves. The instances keep their stored `activeAt` and `firedAt`,
    /// so the resolve's finding id is the one it would have had without the restart. Stored
    /// firing instances of rules that no longer exist (removed or relabelled while the daemon
    /// was down) are resolved too.
    public mutating func resolveVanished(from snapshot: EngineSnapshot, at time: Date) -> [AlertTransition] {
        // However long the outage: a firing that went out must get its resolve.
        var transitions: [AlertTransition] = []
        let claimed = ruleIdentities
        let names = ruleNameCounts
        var reconciled: Set<String> = []
        for groupIndex in groups.indices {
            for ruleIndex in groups[groupIndex].rules.indices {
                let state = groups[groupIndex].rules[ruleIndex]
                let nameShared = names[state.rule.name, default: 0] > 1
                guard let previous = snapshot.instances(of: state.rule, claimed: claimed, nameShared: nameShared) else { continue }
                reconciled.formUnion(snapshot.rules.keys.filter { $0 == state.rule.identity || (!nameShared && $0.hasPrefix(state.rule.name + "/")) })
                guard state.health == .ok else {
                    // Not evaluated successfully yet (Prometheus down at the start, the cycle's
                    // deadline, a stop mid-cycle): its stored instances stay as they were, to be
                    // continued or resolved by its first successful evaluation.
                    for old in previous where old.state != .inactive && state.active[old.fingerprint] == nil {
                        groups[groupIndex].rules[ruleIndex].active[old.fingerprint] = old
                    }
                    continue
                }
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
        // Rules gone while the daemon was down: their firing instances resolve now, when every
        // rule of the group has been evaluated once (a rule of the same name that failed keeps them).
        guard let group = groups.first?.group.name, groups.count == 1 else { return transitions }
        for (identity, instances) in snapshot.rules.sorted(by: { $0.key < $1.key }) where !reconciled.contains(identity) {
            let rule = instances.first?.labels["alertname"] ?? String(identity.prefix { $0 != "/" })
            transitions += Self.resolving(instances, group: group, rule: rule, at: time)
        }
        return transitions
    }
}
