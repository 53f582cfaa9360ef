import AlertEngine
import Foundation
import GoTemplate
import Incidents
import MetricModel
import Remediation

/// The status page's HTML: server-rendered, no script, no external asset. Every value from
/// outside (labels, annotations, evidence, names) is escaped; links are built from escaped parts.
enum ConsolePages {
    /// What every page knows: the path prefix of the page's external URL, who is logged in and
    /// their CSRF token (for forms), and whether they may act.
    struct Context: Sendable {
        var base = ""
        var user: String?
        var csrf: String?
        var canAct = false
        /// Whether logging in is possible at all (users configured).
        var loginAvailable = false
        /// Evidence, findings, the ledger and runbooks may be shown to this request.
        var showsEvidence = true
        var now = Date()
    }

    // MARK: - Escaping

    static func h(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{7F}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A query value: everything but unreserved characters percent-encoded.
    static func q(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func isWebURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return (lower.hasPrefix("http://") || lower.hasPrefix("https://")) && URLComponents(string: text)?.host?.isEmpty == false
    }

    static func alertPath(_ key: String) -> String { "/alert?key=" + q(key) }
    static func findingPath(_ id: String) -> String { "/finding?id=" + q(id) }

    static func time(_ date: Date?) -> String {
        guard let date, date.timeIntervalSince1970 > 0 else { return "—" }
        return Finding.timestamp(date)
    }

    static func ago(_ date: Date?, now: Date) -> String {
        guard let date else { return "" }
        let seconds = Int(now.timeIntervalSince(date))
        if seconds < 0 { return "in \(-seconds)s" }
        if seconds < 120 { return "\(seconds)s ago" }
        if seconds < 7200 { return "\(seconds / 60)m ago" }
        if seconds < 172_800 { return "\(seconds / 3600)h ago" }
        return "\(seconds / 86400)d ago"
    }

    // MARK: - Layout

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
        header{background:#1d2430;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
        header a{color:#cfe3ff;text-decoration:none}header b{margin-right:1em}
        main{padding:1em 1.4em;max-width:1200px}
        table{border-collapse:collapse;width:100%;background:#fff;margin:.4em 0 1.2em}
        th,td{border:1px solid #dde1e6;padding:.3em .5em;text-align:left;vertical-align:top}
        th{background:#eef1f4}
        .label{display:inline-block;background:#e8eef7;border-radius:3px;padding:0 .35em;margin:.1em;font-family:monospace;font-size:12px}
        .firing{color:#b00020;font-weight:bold}.pending{color:#a05a00;font-weight:bold}.ok{color:#1b7a2e}
        .note{background:#fff8e1;border:1px solid #f0d98c;padding:.5em .8em;margin:.5em 0}
        .error{background:#fde8ea;border:1px solid #f3a6ae;padding:.5em .8em;margin:.5em 0}
        pre{background:#fff;border:1px solid #dde1e6;padding:.6em;overflow:auto;max-height:40em;white-space:pre-wrap;word-break:break-all}
        form.inline{display:inline}input[type=text],input[type=password],textarea{width:100%;max-width:40em;box-sizing:border-box}
        button{cursor:pointer}
        """

    static func page(_ title: String, _ context: Context, _ body: String) -> String {
        let base = h(context.base)
        var nav = "<b>meshwatchd</b><a href=\"\(base)/\">Alerts</a>"
        if context.showsEvidence {
            nav += "<a href=\"\(base)/findings\">Findings</a><a href=\"\(base)/ledger\">Ledger</a>"
                + "<a href=\"\(base)/runbooks\">Runbooks</a><a href=\"\(base)/silences\">Silences</a>"
        }
        nav += "<a href=\"\(base)/rules\">Rules</a>"
        if let user = context.user {
            nav += "<span>\(h(user))</span><form class=\"inline\" method=\"post\" action=\"\(base)/logout\">"
                + csrfField(context) + "<button type=\"submit\">Log out</button></form>"
        } else if context.loginAvailable {
            nav += "<a href=\"\(base)/login\">Log in</a>"
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(h(title)) — meshwatchd</title><style>\(style)</style></head>
            <body><header>\(nav)</header><main><h1>\(h(title))</h1>
            \(body)
            </main></body></html>
            """
    }

    static func csrfField(_ context: Context) -> String {
        context.csrf.map { "<input type=\"hidden\" name=\"csrf\" value=\"\(h($0))\">" } ?? ""
    }

    static func labels(_ labels: [(String, String)]) -> String {
        labels.map { "<span class=\"label\">\(h($0.0))=&quot;\(h($0.1))&quot;</span>" }.joined(separator: " ")
    }

    static func sortedLabels(_ labels: [String: String]) -> [(String, String)] {
        labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func message(_ text: String?, error: Bool = false) -> String {
        guard let text, !text.isEmpty else { return "" }
        return "<div class=\"\(error ? "error" : "note")\">\(h(text))</div>"
    }

    // MARK: - Alerts

    struct AlertRow: Sendable {
        var key: String
        var group: String
        var rule: String
        var instance: AlertInstance
        var acknowledgement: Acknowledgement?
        var silencedBy: [String]
    }

    struct Datasource: Sendable {
        var url: String
        var reachable: Bool?
        var lastEvaluation: Date?
        var error: String?
    }

    static func alerts(_ rows: [AlertRow], datasource: Datasource, notice: String?, _ context: Context) -> String {
        var body = message(notice)
        switch datasource.reachable {
        case true?:
            body += "<p>Prometheus <code>\(h(datasource.url))</code>: <span class=\"ok\">reachable</span>, last cycle \(h(time(datasource.lastEvaluation)))</p>"
        case false?:
            body += "<div class=\"error\">Prometheus <code>\(h(datasource.url))</code> was not reached in the last cycle: \(h(datasource.error ?? ""))</div>"
        case nil:
            body += "<p>Prometheus <code>\(h(datasource.url))</code>: not evaluated yet.</p>"
        }
        for (state, title) in [(AlertState.firing, "Firing"), (.pending, "Pending")] {
            let selected = rows.filter { $0.instance.state == state }
            body += "<h2>\(title) (\(selected.count))</h2>"
            guard !selected.isEmpty else {
                body += "<p>None.</p>"
                continue
            }
            body += "<table><tr><th>Alert</th><th>Labels</th><th>Value</th><th>Active since</th><th>Handled</th></tr>"
            for row in selected {
                let labels = row.instance.labels.filter { $0.name != "alertname" }.map { ($0.name, $0.value) }
                var handled: [String] = []
                if let acknowledgement = row.acknowledgement { handled.append("acknowledged by " + h(acknowledgement.by)) }
                if !row.silencedBy.isEmpty { handled.append("silenced") }
                body += "<tr><td class=\"\(state.rawValue)\"><a href=\"\(h(context.base + alertPath(row.key)))\">\(h(row.rule))</a></td>"
                    + "<td>\(Self.labels(labels))</td><td>\(h(GoFormat.float(row.instance.value)))</td>"
                    + "<td>\(h(time(row.instance.activeAt))) (\(h(ago(row.instance.activeAt, now: context.now))))</td>"
                    + "<td>\(handled.joined(separator: ", "))</td></tr>"
            }
            body += "</table>"
        }
        return page("Alerts", context, body)
    }

    static func alert(_ row: AlertRow, expression: String?, graphLink: String?, silences: [Silence], findings: [StateStore.StoredFinding],
                      notice: String?, error: String?, _ context: Context) -> String {
        let instance = row.instance
        var body = message(notice) + message(error, error: true)
        body += "<p>State: <span class=\"\(instance.state.rawValue)\">\(instance.state.rawValue)</span> · group <code>\(h(row.group))</code>"
            + " · value \(h(GoFormat.float(instance.value))) · active since \(h(time(instance.activeAt)))"
            + (instance.firedAt.map { " · firing since \(h(time($0)))" } ?? "") + "</p>"
        body += "<h2>Labels</h2><table>" + instance.labels.map { "<tr><th>\(h($0.name))</th><td>\(h($0.value))</td></tr>" }.joined() + "</table>"
        if context.showsEvidence {
            body += "<h2>Annotations</h2><table>"
                + instance.annotations.map { "<tr><th>\(h($0.name))</th><td>\(h($0.value))</td></tr>" }.joined() + "</table>"
        }
        if let expression {
            body += "<h2>Expression</h2><pre>\(h(expression))</pre>"
            if let graphLink, isWebURL(graphLink) { body += "<p><a href=\"\(h(graphLink))\">Open in Prometheus</a></p>" }
        }
        body += "<h2>Acknowledgement</h2>"
        if let acknowledgement = row.acknowledgement {
            body += "<p id=\"acknowledged\">Acknowledged by <b>\(h(acknowledgement.by))</b> at \(h(time(acknowledgement.at)))"
                + (acknowledgement.comment.isEmpty ? "" : ": \(h(acknowledgement.comment))") + "</p>"
        } else {
            body += "<p>Not acknowledged.</p>"
        }
        if instance.state == .firing {
            if context.canAct {
                body += "<form method=\"post\" action=\"\(h(context.base + alertPath(row.key)))&amp;action=acknowledge\">" + csrfField(context)
                    + "<label>Comment <input type=\"text\" name=\"comment\" maxlength=\"1024\"></label> "
                    + "<button type=\"submit\" id=\"acknowledge\">Acknowledge</button></form>"
            } else if context.loginAvailable {
                body += "<p><a href=\"\(h(context.base))/login\">Log in</a> to acknowledge.</p>"
            }
        }
        if context.showsEvidence {
            body += "<h2>Silences</h2>"
            body += silences.isEmpty ? "<p>No silence matches this alert.</p>" : silenceTable(silences, context)
            let matchers = instance.labels.filter { $0.name == "alertname" || ["namespace", "destination_workload", "destination_workload_namespace", "severity"].contains($0.name) }
                .map { "\($0.name)=" + GoQuoteText.quote($0.value) }.joined(separator: "\n")
            body += "<p><a href=\"\(h(context.base + "/silences?matchers=" + q(matchers)))\">Silence alerts like this</a></p>"
            body += "<h2>Findings</h2>" + findingTable(findings, context)
        }
        return page(row.rule, context, body)
    }

    // MARK: - Findings

    static func findingTable(_ findings: [StateStore.StoredFinding], _ context: Context) -> String {
        guard !findings.isEmpty else { return "<p>No finding yet.</p>" }
        var body = "<table><tr><th>Queued</th><th>Kind</th><th>Alert</th><th>Severity</th><th>Deliveries</th></tr>"
        for stored in findings {
            let finding = stored.finding
            let deliveries = stored.deliveries.map { "\(h($0.sink)): \(h($0.state))" }.joined(separator: "<br>")
            body += "<tr><td><a href=\"\(h(context.base + findingPath(finding.id)))\">\(h(time(stored.queuedAt)))</a></td>"
                + "<td>\(h(finding.kind.rawValue))</td><td><a href=\"\(h(context.base + alertPath(stored.alertKey)))\">\(h(finding.alert.name))</a></td>"
                + "<td>\(h(finding.severity))</td><td>\(deliveries)</td></tr>"
        }
        return body + "</table>"
    }

    static func findings(_ findings: [StateStore.StoredFinding], _ context: Context) -> String {
        page("Findings", context, "<p>The newest \(findings.count) findings.</p>" + findingTable(findings, context))
    }

    static func finding(_ stored: StateStore.StoredFinding, _ context: Context) -> String {
        let finding = stored.finding
        var body = "<p>\(h(finding.kind.rawValue)) · alert <a href=\"\(h(context.base + alertPath(stored.alertKey)))\">\(h(finding.alert.name))</a>"
            + " · severity \(h(finding.severity)) · escalation level \(finding.escalationLevel) · generated \(h(time(finding.generatedAt)))</p>"
        body += "<p>\(labels(sortedLabels(finding.alert.labels)))</p>"
        if let acknowledgement = finding.acknowledgement {
            body += "<p>Acknowledged by <b>\(h(acknowledgement.by))</b> at \(h(time(acknowledgement.at)))</p>"
        }
        body += "<h2>Evidence</h2>"
        body += finding.evidence.isEmpty ? "<p>No evidence (no runbook, or it has not finished).</p>"
            : "<pre id=\"evidence\">\(h(finding.evidence.joined(separator: "\n")))</pre>"
        body += "<h2>Remediation</h2>"
        if let remediation = finding.remediation {
            body += "<p id=\"remediation\">\(h(remediation))</p>"
            if case .object(let decision)? = finding.decision, case .string(let guardName)? = decision["decided_by"] ?? decision["decidedBy"] {
                body += "<p>Decided by the guard <b>\(h(guardName))</b>.</p>"
            }
        } else {
            body += "<p>No remediation decision.</p>"
        }
        body += "<h2>Deliveries</h2><table><tr><th>Sink</th><th>State</th><th>Attempts</th><th>Detail</th><th>Updated</th></tr>"
        body += stored.deliveries.map {
            "<tr><td>\(h($0.sink))</td><td>\(h($0.state))</td><td>\($0.attempts)</td><td>\(h($0.detail ?? ""))</td><td>\(h(time($0.updatedAt)))</td></tr>"
        }.joined() + "</table>"
        let links = Finding.orderedLinks(finding)
        if !links.isEmpty {
            // Only http(s) becomes a link: a label templated into a link could hold `javascript:`.
            body += "<h2>Links</h2><ul>" + links.map { link in
                isWebURL(link.url) ? "<li><a href=\"\(h(link.url))\">\(h(link.title))</a></li>" : "<li>\(h(link.title)): \(h(link.url))</li>"
            }.joined() + "</ul>"
        }
        if let diagnostics = finding.diagnostics {
            body += "<h2>Diagnostics</h2><pre id=\"diagnostics\">\(h(pretty(diagnostics)))</pre>"
        }
        if let decision = finding.decision {
            body += "<h2>Decision</h2><pre>\(h(pretty(decision)))</pre>"
        }
        return page("Finding \(finding.alert.name)", context, body)
    }

    static func pretty(_ value: JSONValue) -> String {
        guard let data = try? JSONEncoder.pretty.encode(value) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - Ledger, rules, runbooks

    static func ledger(_ entries: [StateStore.LedgerEntry], _ context: Context) -> String {
        var body = "<p>Every remediation decision, taken or refused, newest first.</p>"
        guard !entries.isEmpty else { return page("Ledger", context, body + "<p>No decision yet.</p>") }
        body += "<table><tr><th>At</th><th>Outcome</th><th>Action</th><th>Workload</th><th>Alert</th><th>Guard</th><th>Reason</th><th>Verified</th></tr>"
        for entry in entries.reversed() {
            let decision = entry.decision
            body += "<tr><td>\(h(time(decision.at)))</td><td>\(h(decision.outcome.rawValue))\(entry.open ? " (in progress)" : "")</td>"
                + "<td>\(h(decision.action.rawValue))</td><td>\(h(decision.workload))</td>"
                + "<td><a href=\"\(h(context.base + alertPath(decision.alertKey)))\">\(h(decision.alert))</a></td>"
                + "<td>\(h(decision.decidedBy))</td><td>\(h(decision.reason))</td><td>\(h(entry.verified ?? ""))</td></tr>"
        }
        return page("Ledger", context, body + "</table>")
    }

    struct RuleRow: Sendable {
        var group: String
        var name: String
        var kind: String
        var expression: String
        var health: String
        var lastError: String?
        var lastEvaluation: Date?
        var active: Int
    }

    static func rules(_ rows: [RuleRow], _ context: Context) -> String {
        var body = ""
        var group: String?
        for row in rows {
            if row.group != group {
                if group != nil { body += "</table>" }
                group = row.group
                body += "<h2>\(h(row.group))</h2><table><tr><th>Rule</th><th>Health</th><th>Active</th><th>Last evaluation</th><th>Expression</th></tr>"
            }
            let health = row.health == "ok" ? "<span class=\"ok\">ok</span>"
                : row.health == "err" ? "<span class=\"firing\">err</span>: \(h(row.lastError ?? ""))" : h(row.health)
            body += "<tr><td>\(h(row.name)) <small>(\(h(row.kind)))</small></td><td>\(health)</td><td>\(row.active)</td>"
                + "<td>\(h(time(row.lastEvaluation)))</td><td><code>\(h(row.expression))</code></td></tr>"
        }
        if group != nil { body += "</table>" } else { body = "<p>No rule loaded.</p>" }
        return page("Rules", context, body)
    }

    static func runbooks(_ runbooks: [Runbook], _ context: Context) -> String {
        guard !runbooks.isEmpty else { return page("Runbooks", context, "<p>Runbooks are off (runbooks.enabled) or none is defined.</p>") }
        var body = ""
        for runbook in runbooks.sorted(by: { $0.alert < $1.alert }) {
            body += "<h2 id=\"\(h(runbook.alert))\">\(h(runbook.alert))</h2><p>\(h(runbook.title))</p><ol>"
            body += runbook.steps.map { "<li><b>\(h($0.name))</b> <small>(\(h($0.kind.rawValue)))</small>"
                + ($0.query.map { "<br><code>\(h($0))</code>" } ?? "") + "</li>" }.joined()
            body += "</ol><p>Remediation: \(h(runbook.remediation ?? "none"))</p>"
        }
        return page("Runbooks", context, body)
    }

}

extension JSONEncoder {
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Go's %q for a matcher value on the page.
enum GoQuoteText {
    static func quote(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(character)
            }
        }
        return out + "\""
    }
}

