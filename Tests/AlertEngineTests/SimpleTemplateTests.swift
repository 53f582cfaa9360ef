@testable import GoTemplate
import MetricModel
import Testing

/// Simple templates take a shortcut past the executor; it must say exactly what the executor says.
@Suite("Simple templates: the shortcut and the executor agree")
struct SimpleTemplateTests {
    static let templates = [
        "{{ $labels.job }} is {{ $value }}", "{{ .Labels.job }}/{{ .Value }}", "[{{ $labels.missing }}]",
        "{{ $value | humanize }}|{{ $value | humanize1024 }}|{{ $value | humanizeDuration }}|{{ $value | humanizePercentage }}",
        "{{ $value | humanizeTimestamp }}", "{{ $labels.job | toUpper }}-{{ .Labels.job | toLower }}-{{ $labels.job | title }}",
        "{{ $labels.number | humanize }}", "{{ $labels.job | humanize }}", "{{ $externalLabels.cluster }}{{ .ExternalLabels.none }}",
        "{{ $labels.missing | humanizeDuration }}", "plain text", "{{- $labels.job -}}   x",
    ]
    static let values: [Double] = [0, -1.5, 0.0001, 1234567, .nan, .infinity, -.infinity, 1e19, 1.7e12, 5e-324]

    @Test("every simple template gives the executor's text or error for odd values and labels", arguments: templates)
    func agree(source: String) throws {
        let template = try Template(source, name: "__alert_X", prefixBytes: Template.alertPrefixBytes)
        #expect(template.simple != nil || source.contains("{{-"), "\(source) should be simple")
        for value in Self.values {
            for labels in [["job": "straße-ǆx", "number": "2048"], ["job": ""], [:]] {
                let data = TemplateData(labels: labels, externalLabels: ["cluster": "east"], value: value)
                let fast = Result { () throws(TemplateError) -> String in try template.execute(data) }
                let general = Result { () throws(TemplateError) -> String in try template.executeInExecutor(data) }
                switch (fast, general) {
                case (.success(let a), .success(let b)): #expect(a == b, "\(source) at \(value) \(labels)")
                case (.failure(let a), .failure(let b)): #expect(a.description == b.description)
                default: Issue.record("\(source) at \(value) \(labels): \(fast) vs \(general)")
                }
            }
        }
    }

    @Test("templates with anything more are not simple")
    func notSimple() throws {
        for source in ["{{ if $value }}x{{ end }}", "{{ $labels }}", "{{ $value | printf \"%.2f\" }}", "{{ $x := 1 }}{{ $x }}",
                       "{{ define \"a\" }}x{{ end }}{{ $value }}", "{{ .Labels.a.b }}", "{{ $value | humanize | toUpper }}"] {
            #expect(try Template(source).simple == nil, "\(source)")
        }
    }
}
