/// Remediation belongs to rules, not names: only the built-in packs' rules and the user rules
/// named in `remediation.rules` (file, group, rule) may act, never a rule because its alert
/// name matches a runbook.
public struct RuleOptInGuard: RemediationGuard {
    public let name = "rule opt-in"
    public init() {}
    public func check(_ d: inout Deliberation, in world: any RemediationWorld) async -> GuardVerdict {
        guard let rule = d.proposal.rule else { return .refuse("the rule that raised the alert is not known; only opted-in rules act") }
        if rule.builtIn || d.policy.optedInRules.contains(rule.key) { return .allow }
        return .refuse("rule \(rule.name) of group \(rule.group) in \(rule.file) has not opted in to remediation (name it in remediation.rules)")
    }
}
