import AlertEngine

/// Every default of the configuration file in one place, read by the code that decides with
/// the setting and by the validation that compares with it (`config.example.json` shows them;
/// a test checks it derives what an empty configuration does).
enum ConfigurationDefaults {
    static let evaluationInterval = Duration.seconds(30)
    static let shutdownTimeout = Duration.seconds(10)
    static let listenAddress = "127.0.0.1:9819"
    /// The ConfigMap that keeps silences and acknowledgements across failovers.
    static let stateConfigMap = "meshwatchd-silences"
    /// How often configuration and rule files are checked for changes.
    static let configCheckInterval = Duration.seconds(30)
    /// A status connection silent (or dripping a request head) this long is closed.
    static let listenIdleTimeout = Duration.seconds(30)
    static let maxConcurrentQueries = 4
    /// The most series one rule's query may answer with before the rule fails for the cycle
    /// (its alerts keep their state): one runaway query must not stall the daemon.
    static let maxSeriesPerQuery = 10_000
    static let evidenceTimeout = Duration.seconds(60)
    static let restore = RestoreOptions()
    /// client-go's leader-election defaults.
    static let leaseDuration = Duration.seconds(15)
    static let renewDeadline = Duration.seconds(10)
    static let retryPeriod = Duration.seconds(2)
    /// remote_write: one request's time limit, the samples that may wait, and those per request.
    static let remoteWriteTimeout = Duration.seconds(30)
    static let remoteWriteMaxQueuedSamples = 100_000
    static let remoteWriteMaxSamplesPerSend = 2_000
    /// Slack's group wait.
    static let groupWait = Duration.seconds(30)
}
