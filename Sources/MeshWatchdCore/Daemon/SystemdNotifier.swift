import CSystemd
import Foundation
import Logging

/// Talks to systemd through `sd_notify` when the unit is `Type=notify` (NOTIFY_SOCKET set);
/// does nothing otherwise.
struct SystemdNotifier: Sendable {
    /// Half of `WATCHDOG_USEC`, when systemd's watchdog is on for this process.
    let watchdogInterval: Duration?

    /// `logger`: where a unit started by systemd (NOTIFY_SOCKET set) hears that libsystemd could
    /// not be loaded, which means no READY=1 and systemd stopping the unit at its start timeout.
    init(logger: Logger? = nil) {
        if let socket = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !socket.isEmpty, let reason = mw_systemd_load_error() {
            logger?.error("NOTIFY_SOCKET is set but libsystemd cannot be loaded: systemd will not hear READY=1 or the watchdog",
                          metadata: ["error": "\(String(cString: reason))"])
        }
        var microseconds: UInt64 = 0
        watchdogInterval = mw_sd_watchdog_enabled(0, &microseconds) > 0 && microseconds > 0
            ? .microseconds(Int64(microseconds / 2)) : nil
    }

    func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    func status(_ status: String) { send("STATUS=\(status)") }
    func watchdog() { send("WATCHDOG=1") }
    /// Changes the watchdog's timeout for this run (systemd ≥ 236), and feeds it.
    func watchdogTimeout(_ timeout: Duration) {
        let microseconds = timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000
        send("WATCHDOG_USEC=\(microseconds)\nWATCHDOG=1")
    }

    /// RELOADING=1 with the monotonic time systemd ≥ 253 asks for (older ones ignore it).
    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        send("RELOADING=1\nMONOTONIC_USEC=\(UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000)")
    }

    func stopping() { send("STOPPING=1") }

    private func send(_ state: String) { _ = mw_sd_notify(0, state) }
}
