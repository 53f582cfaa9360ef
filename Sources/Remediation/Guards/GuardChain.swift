/// The guard chain, in the order the guards are asked; nothing decides outside it.
public enum GuardChain {
    /// mode (off) → rule opt-in → scope → blast radius → incident → in flight → cooldown →
    /// budget → preconditions → server dry run → then, immediately before the write: the HPA
    /// again → alert still firing → lease → kill switch → mode (dry-run) → the write.
    public static var standard: [any RemediationGuard] {
        [ModeOffGuard(), RuleOptInGuard(), ScopeGuard(), BlastRadiusGuard(), IncidentGuard(), InFlightGuard(), CooldownGuard(), BudgetGuard(),
         PreconditionGuard(), ServerDryRunGuard(),
         AutoscalerRecheckGuard(), AlertStillFiringGuard(), LeaseGuard(), KillSwitchGuard(), ModeAtWriteGuard()]
    }
}
