import Foundation
@testable import PromQL
import Testing

/// Prometheus 3's additions, read only with `Syntax.prometheus3` (`promql_syntax: prometheus-3`).
/// Hand-written: no Prometheus 3 runs here. Prometheus 2.42's refusal of each is in the corpus
/// the promtool differential test runs.
@Suite("PromQL: Prometheus 3's quoted UTF-8 names and newer functions, behind a setting")
struct Prometheus3SyntaxTests {
    /// Expressions and how they print (as Prometheus 3 prints them: names quoted only when not legacy-valid).
    static let printed: [(String, String)] = [
        (#"{"http.requests"}"#, #"{"http.requests"}"#),
        (#"{"http.requests", "k8s.pod"="a", job!="x"}"#, #"{"http.requests", "k8s.pod"="a", job!="x"}"#),
        (#"{"up"}"#, "up"),
        (#"{"up", job="a"}"#, #"up{job="a"}"#),
        (#"up{"job"="a"}"#, #"up{job="a"}"#),
        (#"up{"k8s.pod"=~"a.*"}"#, #"up{"k8s.pod"=~"a.*"}"#),
        (#"sum by ("k8s.pod", job) (rate({"http.requests"}[5m]))"#, #"sum by ("k8s.pod", job) (rate({"http.requests"}[5m]))"#),
        (#"sum without ("a b") (x)"#, #"sum without ("a b") (x)"#),
        (#"a * on ("a.b") group_left ("c.d") b"#, #"a * on ("a.b") group_left ("c.d") b"#),
        ("histogram_avg(x) + histogram_stddev(x) - histogram_stdvar(x)", "histogram_avg(x) + histogram_stddev(x) - histogram_stdvar(x)"),
        (#"sort_by_label_desc(x, "a", "b")"#, #"sort_by_label_desc(x, "a", "b")"#),
        ("limitk(2, x)", "limitk(2, x)"),
        ("limit_ratio by (a) (0.5, x)", "limit_ratio by (a) (0.5, x)"),
        ("double_exponential_smoothing(x[5m], 0.5, 0.5)", "double_exponential_smoothing(x[5m], 0.5, 0.5)"),
        ("mad_over_time(x[5m])", "mad_over_time(x[5m])"),
        (#"info(up, target_info{"k8s.cluster"="a"})"#, #"info(up, target_info{"k8s.cluster"="a"})"#),
    ]

    @Test("each parses under prometheus-3, prints as Prometheus 3 prints it, and the print parses back to the same tree", arguments: printed)
    func prints(_ pair: (String, String)) throws {
        let expr = try Parser.parse(pair.0, syntax: .prometheus3)
        #expect(expr.description == pair.1)
        #expect(try Parser.parse(expr.description, syntax: .prometheus3) == expr)
    }

    @Test("each is refused under prometheus-2.42 (the default)", arguments: printed.map(\.0))
    func refusedByDefault(_ text: String) {
        #expect(throws: PromQLError.self) { try Parser.parse(text) }
    }

    @Test("what Prometheus 3 refuses: a metric name twice, an empty quoted name, holt_winters (renamed), a name for a label value")
    func refused() throws {
        for text in [#"{"a", "b"}"#, #"x{"y"}"#, #"{""}"#, #"sum by ("") (x)"#, "holt_winters(x[5m], 0.5, 0.5)", #"x{a="b", "c"}"#,
                     #"x{a="b"="c"}"#] {
            #expect(throws: PromQLError.self, "\(text)") { try Parser.parse(text, syntax: .prometheus3) }
        }
        #expect(throws: Never.self) { try Parser.parse("holt_winters(x[5m], 0.5, 0.5)") }
        // Everything 2.42 reads reads the same under prometheus-3.
        for text in ["sum by (a) (rate(x[5m]))", #"up{job="a"} offset 5m"#, "a / on (x) group_left (y) b"] {
            #expect(try Parser.parse(text, syntax: .prometheus3) == (try Parser.parse(text)))
        }
    }
}
