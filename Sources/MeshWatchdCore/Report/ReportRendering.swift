import Foundation

/// The figures as the report writes them, shared by Markdown and HTML.
enum ReportFormat {
    static func number(_ value: Double?, digits: Int = 2) -> String {
        guard let value, value.isFinite else { return "–" }
        return String(format: "%.\(digits)f", value)
    }

    static func percent(_ ratio: Double?) -> String {
        guard let ratio, ratio.isFinite else { return "–" }
        return String(format: "%.2f %%", ratio * 100)
    }

    /// The change against the week before: `+12.0 %` of a value, or in points for a ratio.
    static func change(_ now: Double?, _ before: Double?, points: Bool = false) -> String {
        guard let now, let before, now.isFinite, before.isFinite else { return "new" }
        if points { return String(format: "%+.2f pp", (now - before) * 100) }
        guard before != 0 else { return now == 0 ? "±0 %" : "new" }
        return String(format: "%+.1f %%", (now - before) / before * 100)
    }

    static func bytes(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "–" }
        var scaled = value
        for unit in ["B", "KiB", "MiB", "GiB"] {
            if abs(scaled) < 1024 || unit == "GiB" { return unit == "B" ? String(format: "%.0f B", scaled) : String(format: "%.1f %@", scaled, unit) }
            scaled /= 1024
        }
        return String(format: "%.1f TiB", scaled)
    }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }
}

extension WeeklyReport {
    /// The tables of the report: a title, the header and the rows, the same in both formats.
    var tables: [(title: String, note: String?, header: [String], rows: [[String]])] {
        var out: [(String, String?, [String], [[String]])] = []
        out.append(("Services", "Averages over the week; the change is against the week before.",
                    ["service", "req/s", "change", "errors", "change", "P50 ms", "P95 ms", "P99 ms", "P95 change"],
                    services.map { s in
                        [s.service, ReportFormat.number(s.requestsPerSecond), ReportFormat.change(s.requestsPerSecond, s.requestsPerSecondBefore),
                         ReportFormat.percent(s.errorRatio), ReportFormat.change(s.errorRatio, s.errorRatioBefore, points: true),
                         ReportFormat.number(s.p50, digits: 1), ReportFormat.number(s.p95, digits: 1), ReportFormat.number(s.p99, digits: 1),
                         ReportFormat.change(s.p95, s.p95Before)]
                    }))
        if mtlsShare != nil || mtlsShareBefore != nil {
            out.append(("mTLS coverage", "The share of requests that were mutual TLS.", ["week", "share", "change"],
                        [["this week", ReportFormat.percent(mtlsShare), ReportFormat.change(mtlsShare, mtlsShareBefore, points: true)],
                         ["week before", ReportFormat.percent(mtlsShareBefore), ""]]))
        }
        let denied = services.filter { $0.denied > 0 || ($0.deniedBefore ?? 0) > 0 }
        out.append(("Authorization failures", "Requests denied with 403 (\"RBAC: access denied\").", ["service", "denied", "week before"],
                    denied.map { [$0.service, ReportFormat.number($0.denied, digits: 0), ReportFormat.number($0.deniedBefore, digits: 0)] }))
        out.append(("Control plane and sidecars", "CPU in cores, averaged; memory averaged and at its peak.", ["pod", "CPU", "memory", "peak"],
                    (controlPlane + (sidecars.map { [$0] } ?? [])).map {
                        [$0.name, ReportFormat.number($0.cpuCores, digits: 3), ReportFormat.bytes($0.memoryAverageBytes), ReportFormat.bytes($0.memoryMaxBytes)]
                    }))
        out.append(("Certificates", "Renewals seen this week (cert-manager) and the current expiry.", ["certificate", "renewals", "expires"],
                    certificates.map { [$0.name, String($0.renewals), $0.expiresAt.map(ReportFormat.day) ?? "–"] }))
        out.append(("Alerts", "Firings this week and the week before, from meshwatchd's state.", ["alert", "severity", "firings", "week before"],
                    alerts.map { [$0.alert, $0.severity, String($0.firings), String($0.firingsBefore)] }))
        out.append(("Findings", "Findings queued for each sink this week.", ["sink", "kind", "count"],
                    findings.map { [$0.sink, $0.kind, String($0.count)] }))
        out.append(("Remediation", "Actions decided this week and whether the alert recovered.", ["time", "action", "workload", "outcome", "verified"],
                    remediation.map { [ReportFormat.day($0.at), $0.action, $0.workload, $0.outcome, $0.verified ?? "–"] }))
        return out
    }

    /// A table cell from values that may come from anyone who can label a metric: one line, no
    /// HTML, no link or image (their brackets escaped), no cell break.
    static func markdownCell(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\n", "\r", "\r\n", "\u{2028}", "\u{2029}", "\u{85}": out += " "
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "|", "[", "]", "\\": out += "\\" + String(character)
            default: out.append(character)
            }
        }
        return out
    }

    var title: String { "\(mesh.capitalized) mesh: weekly review, \(ReportFormat.day(from)) to \(ReportFormat.day(to))" }

    func markdown() -> String {
        var out = "# \(title)\n\n"
        for table in tables {
            out += "## \(table.title)\n\n"
            if let note = table.note { out += "\(note)\n\n" }
            if table.rows.isEmpty { out += "None.\n\n"; continue }
            func row(_ cells: [String]) -> String { "| " + cells.map(Self.markdownCell).joined(separator: " | ") + " |\n" }
            out += row(table.header) + row(table.header.map { _ in "---" })
            for cells in table.rows { out += row(cells) }
            out += "\n"
        }
        if !gaps.isEmpty { out += "## Not available\n\n" + gaps.map { "- \($0)\n" }.joined() + "\n" }
        return out
    }
}
