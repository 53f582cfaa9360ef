import Foundation

/// The report as one HTML file that needs nothing at view time: styles inline, charts drawn here
/// as SVG, no script, no font, no image fetched.
extension WeeklyReport {
    /// Text as HTML, as the status page escapes it.
    static func escape(_ text: String) -> String { ConsolePages.h(text) }

    func html() -> String {
        var body = "<h1>\(Self.escape(title))</h1>\n"
        if !charts.isEmpty {
            body += "<section class=\"charts\">\n" + charts.map(Self.svg).joined(separator: "\n") + "\n</section>\n"
        }
        for table in tables {
            let id = table.title.lowercased().replacingOccurrences(of: " ", with: "-")
            body += "<section id=\"\(id)\"><h2>\(Self.escape(table.title))</h2>\n"
            if let note = table.note { body += "<p class=\"note\">\(Self.escape(note))</p>\n" }
            if table.rows.isEmpty {
                body += "<p>None.</p></section>\n"
                continue
            }
            body += "<table><thead><tr>" + table.header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
            for row in table.rows { body += "<tr>" + row.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n" }
            body += "</tbody></table></section>\n"
        }
        if !gaps.isEmpty { body += "<section id=\"gaps\"><h2>Not available</h2><ul>" + gaps.map { "<li>\(Self.escape($0))</li>" }.joined() + "</ul></section>\n" }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escape(title))</title>
            <style>
            body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d232b; padding: 0 1em; }
            h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
            table { border-collapse: collapse; width: 100%; } th, td { padding: .3em .6em; border-bottom: 1px solid #d8dde3; text-align: right; }
            th:first-child, td:first-child { text-align: left; } th { background: #f2f4f7; }
            .note { color: #5a6470; margin: .2em 0 .6em; }
            .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(30em, 1fr)); gap: 1em; }
            figure { margin: 0; border: 1px solid #d8dde3; border-radius: 4px; padding: .5em; }
            figcaption { font-weight: 600; margin-bottom: .3em; }
            svg text { font: 11px system-ui, sans-serif; fill: #5a6470; }
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    /// A line chart of one hourly series: the line, the value axis with its range, one tick a day.
    static func svg(_ chart: Chart) -> String {
        let (width, height, left, right, top, bottom) = (480.0, 180.0, 56.0, 12.0, 10.0, 26.0)
        let id = chart.title.lowercased().replacingOccurrences(of: " ", with: "-")
        // Only finite values are drawn: an Inf or NaN would put NaN into every coordinate.
        let points = chart.points.filter { $0.value.isFinite }
        guard let first = points.first, let last = points.last, points.count > 1, last.at > first.at else {
            return "<figure id=\"chart-\(id)\"><figcaption>\(escape(chart.title))</figcaption><p>No data.</p></figure>"
        }
        let values = points.map(\.value)
        var low = values.min() ?? 0, high = values.max() ?? 1
        if low > 0 && low < high / 2 { low = 0 }
        if high == low { high = low + max(abs(low) * 0.1, 1) }
        let span = last.at.timeIntervalSince(first.at)
        func x(_ date: Date) -> Double { left + (width - left - right) * date.timeIntervalSince(first.at) / span }
        func y(_ value: Double) -> Double { top + (height - top - bottom) * (1 - (value - low) / (high - low)) }
        let line = points.map { String(format: "%.1f,%.1f", x($0.at), y($0.value)) }.joined(separator: " ")
        var ticks = ""
        var day = first.at
        while day <= last.at {
            let label = ReportFormat.day(day).prefix(10).dropFirst(5)
            ticks += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d8dde3\"/>", x(day), top, x(day), height - bottom)
            let anchor = x(day) > width - right - 20 ? "end" : x(day) < left + 20 ? "start" : "middle"
            ticks += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\">%@</text>", x(day), height - 8, anchor, String(label))
            day = day.addingTimeInterval(86400)
        }
        func axis(_ value: Double) -> String {
            String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>", left - 6, y(value) + 4,
                   ReportFormat.number(value, digits: value.magnitude < 10 ? 2 : 0) + (chart.unit == "%" ? "%" : ""))
        }
        return """
            <figure id="chart-\(id)"><figcaption>\(escape(chart.title)) (\(escape(chart.unit)))</figcaption>
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" width="100%" role="img" aria-label="\(escape(chart.title))">
            <rect x="\(Int(left))" y="\(Int(top))" width="\(Int(width - left - right))" height="\(Int(height - top - bottom))" fill="#fafbfc" stroke="#c3cad3"/>
            \(ticks)\(axis(high))\(axis(low))
            <polyline class="series" fill="none" stroke="#2563eb" stroke-width="1.6" points="\(line)"/>
            </svg></figure>
            """
    }
}
