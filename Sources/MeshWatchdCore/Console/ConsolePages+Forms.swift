import Foundation
import Incidents

/// The pages with forms: silences and the login.
extension ConsolePages {
    // MARK: - Silences

    static func silenceTable(_ silences: [Silence], _ context: Context) -> String {
        var body = "<table><tr><th>Matchers</th><th>State</th><th>Starts</th><th>Ends</th><th>Created by</th><th>Comment</th><th></th></tr>"
        for silence in silences {
            let status = silence.status(at: context.now)
            var action = ""
            if status != "expired" && context.canAct {
                action = "<form class=\"inline\" method=\"post\" action=\"\(h(context.base))/silences?id=\(h(q(silence.id)))&amp;action=expire\">"
                    + csrfField(context) + "<button type=\"submit\">Expire</button></form>"
            }
            body += "<tr id=\"silence-\(h(silence.id))\"><td>\(silence.matchers.map { "<span class=\"label\">\(h($0))</span>" }.joined(separator: " "))</td>"
                + "<td>\(h(status))\(silence.expiredBy.map { " (by \(h($0)))" } ?? "")</td><td>\(h(time(silence.startsAt)))</td><td>\(h(time(silence.endsAt)))</td>"
                + "<td>\(h(silence.createdBy))</td><td>\(h(silence.comment))</td><td>\(action)</td></tr>"
        }
        return body + "</table>"
    }

    static func silences(_ silences: [Silence], prefill: String, notice: String?, error: String?, _ context: Context) -> String {
        var body = message(notice) + message(error, error: true)
        body += "<p>A silenced alert reaches no sink but Alertmanager's, which receive it with the silence. A resolve still reaches every sink that heard the firing.</p>"
        body += silences.isEmpty ? "<p>No silence.</p>" : silenceTable(silences, context)
        if context.canAct {
            body += """
                <h2>New silence</h2><form method="post" action="\(h(context.base))/silences">\(csrfField(context))
                <p><label>Matchers, one per line (Alertmanager's syntax: name="value", !=, =~, !~)<br>
                <textarea name="matchers" rows="4" required>\(h(prefill))</textarea></label></p>
                <p><label>Duration <input type="text" name="duration" value="2h" required></label></p>
                <p><label>Comment <input type="text" name="comment" maxlength="1024" required></label></p>
                <p><button type="submit" id="create-silence">Silence</button></p></form>
                """
        } else if context.loginAvailable {
            body += "<p><a href=\"\(h(context.base))/login\">Log in</a> to add or expire silences.</p>"
        }
        return page("Silences", context, body)
    }

    // MARK: - Login and errors

    static func login(error: String?, next: String, _ context: Context) -> String {
        let body = message(error, error: true) + """
            <form method="post" action="\(h(context.base))/login">
            <input type="hidden" name="next" value="\(h(next))">
            <p><label>User <input type="text" name="user" autocomplete="username" required></label></p>
            <p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
            <p><button type="submit" id="login">Log in</button></p></form>
            """
        return page("Log in", context, body)
    }

    static func problem(_ title: String, _ text: String, _ context: Context) -> String {
        page(title, context, message(text, error: true))
    }
}
