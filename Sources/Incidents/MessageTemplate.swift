import Foundation
import GoTemplate
import MetricModel

/// A sink's own message, in the template language of rule annotations (Go's text/template with
/// Prometheus's functions), over the finding: `$labels`, `$value`, `$externalLabels`,
/// `$externalURL` as in a rule, and `.Annotations`, `.Status` (firing or resolved), `.Kind`
/// (firing, resolved, reminder, escalated, acknowledged), `.AlertName`, `.Severity`,
/// `.EscalationLevel`, `.Evidence` (its lines), `.Remediation`, `.AcknowledgedBy`,
/// `.GeneratorURL`, `.Links` (by name).
///
/// Slack shows it as the message text, PagerDuty as the summary, Alertmanager as the `message`
/// annotation, the webhook as the finding's `message`.
public struct MessageTemplate: Sendable {
    let template: Template
    let externalURL: String

    /// Compiled now: a template that does not parse is a configuration error.
    public init(_ source: String, name: String, externalURL: String = "") throws(TemplateError) {
        let prefix = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
        template = try Template(prefix + source, name: name, prefixBytes: Template.alertPrefixBytes)
        self.externalURL = externalURL
    }

    /// The rendered message; nil when the template fails on this finding (the sink's own text is used).
    public func render(_ finding: Finding) -> String? {
        var labels = finding.alert.labels
        labels["alertname"] = labels["alertname"] ?? finding.alert.name
        var data = TemplateData(labels: Labels(labels), externalURL: externalURL,
                                value: Double(finding.alert.value.replacingOccurrences(of: "+Inf", with: "inf")) ?? .nan)
        data.fields = [
            "Annotations": .map(Labels(finding.alert.annotations)),
            "Status": .string(finding.kind == .resolved ? "resolved" : "firing"),
            "Kind": .string(finding.kind.rawValue),
            "AlertName": .string(finding.alert.name),
            "Severity": .string(finding.severity),
            "EscalationLevel": .integer(Int64(finding.escalationLevel)),
            "Evidence": .string(finding.evidence.joined(separator: "\n")),
            "Remediation": .string(finding.remediation ?? ""),
            "AcknowledgedBy": .string(finding.acknowledgement?.by ?? ""),
            "GeneratorURL": .string(finding.alert.generatorURL ?? ""),
            "Links": .map(Labels(finding.links)),
        ]
        return try? template.execute(data)
    }
}
