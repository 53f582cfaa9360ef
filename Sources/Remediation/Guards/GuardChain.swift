/// The guard chain, in the order the guards are asked; nothing decides outside it.
public enum GuardChain {
    /// mode (off) → rule opt-in → scope → blast radius → incident → in flight → cooldown →
    /// budget → preconditions → server dry run → then, before the write: the HPA again → kill
    /// switch (these two may await the API) → and with no suspension point left before the
    /// send: alert still firing → lease → mode (dry-run) → the write.
    public static var standard: [any RemediationGuard] {
        [ModeOffGuard(), RuleOptInGuard(), ScopeGuard(), BlastRadiusGuard(), IncidentGuard(), InFlightGuard(), CooldownGuard(), BudgetGuard(),
         PreconditionGuard(), ServerDryRunGuard(),
         AutoscalerRecheckGuard(), KillSwitchGuard(), AlertStillFiringGuard(), LeaseGuard(), ModeAtWriteGuard()]
    }
}
