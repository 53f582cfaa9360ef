import Foundation
@testable import PromQL
import Testing

@Suite("PromQL: parse, check and print as Prometheus 2.42")
struct ParserTests {
    /// Expressions and the text Prometheus 2.42's `String()` prints for them.
    static let normalised: [(String, String)] = [
        ("up", "up"),
        ("up{job=\"istiod\"} == 0", "up{job=\"istiod\"} == 0"),
        ("sum(rate(x[5m])) by (a, b)", "sum by (a, b) (rate(x[5m]))"),
        ("sum by(a)(rate(x[5m]))", "sum by (a) (rate(x[5m]))"),
        ("sum without (a) (x)", "sum without (a) (x)"),
        ("topk(10, sum by (d) (rate(istio_requests_total{reporter=\"destination\", response_code=~\"5..\"}[5m])))",
         "topk(10, sum by (d) (rate(istio_requests_total{reporter=\"destination\",response_code=~\"5..\"}[5m])))"),
        ("histogram_quantile(0.95, sum(rate(b_bucket[5m])) by (le))", "histogram_quantile(0.95, sum by (le) (rate(b_bucket[5m])))"),
        ("a / on(x) group_left(y) b", "a / on (x) group_left (y) b"),
        ("a > bool 1", "a > bool 1"),
        ("a and ignoring(c) b", "a and ignoring (c) b"),
        ("-a ^ 2", "-a ^ 2"),
        ("- 1", "-1"),
        ("x offset 5m", "x offset 5m"),
        ("x offset -1h30m", "x offset -1h30m"),
        ("x[1h30m] @ 100 offset 5m", "x[1h30m] @ 100.000 offset 5m"),
        ("rate(x[5m:1m])", "rate(x[5m:1m])"),
        ("max_over_time(rate(x[1m])[10m:])", "max_over_time(rate(x[1m])[10m:])"),
        ("x @ start()", "x @ start()"),
        ("{__name__=\"up\"}", "up"),
        ("{job=\"a\"}", "{job=\"a\"}"),
        ("1e3", "1000"),
        ("500 * 1024 * 1024", "500 * 1024 * 1024"),
        ("5e8", "5e+08"),
        ("123456", "123456"),
        ("1234567", "1.234567e+06"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-05"),
        ("0x1f", "31"),
        ("0.05", "0.05"),
        ("Inf", "+Inf"),
        ("x[90d]", "x[90d]"),
        ("x{}", "x"),
        ("x[7d]", "x[1w]"),
        ("absent(up{job=\"istiod\"}) # a comment\n", "absent(up{job=\"istiod\"})"),
        ("label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")", "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"),
        ("(a + b) * c", "(a + b) * c"),
        ("a + b * c", "a + b * c"),
        ("certmanager_certificate_expiration_timestamp_seconds - time() < 7 * 86400",
         "certmanager_certificate_expiration_timestamp_seconds - time() < 7 * 86400"),
        ("count_values(\"v\", x)", "count_values(\"v\", x)"),
        ("x{a='b\\n'}", "x{a=\"b\\n\"}"),
        ("x{a=`c\\d`}", "x{a=\"c\\\\d\"}"),
        ("job:rate5m:sum", "job:rate5m:sum"),
    ]

    @Test("the normalised text is Prometheus's, and it parses back to the same tree", arguments: normalised)
    func normalises(_ input: String, _ expected: String) throws {
        let expr = try Parser.parse(input)
        #expect(expr.description == expected)
        #expect(try Parser.parse(expected) == expr)
    }

    /// Invalid expressions with promtool 2.42's error position.
    static let invalid: [(String, String)] = [
        ("sum(rate(x[5m]) by (x)", "1:17"),
        ("rate(x[5 m])", "1:8"),
        ("rate(x)", "1:6"),
        ("rate(x[5m], 1)", "1:1"),
        ("unknown_fn(x)", "1:1"),
        ("1 > 2", "1:3"),
        ("x and 1", "1:1"),
        ("{}", "1:1"),
        ("(x)[5m]", "1:4"),
        ("x[5m][5m]", "1:6"),
        ("topk(x)", "1:1"),
        ("sum(x[5m])", "1:5"),
        ("x + \"a\"", "1:5"),
        ("x offset 5m offset 1m", "1:1"),
        ("x{a=\"b\"", "1:8"),
        ("x{a=b}", "1:5"),
        ("1 +", "1:4"),
        ("x[30m1h]", "1:3"),
        ("x +bool y", "1:3"),
        ("time(1)", "1:1"),
        ("foo{__name__=\"bar\"}", "1:1"),
        ("a * on(x) group_left(x) b", "1:3"),
    ]

    @Test("invalid expressions are refused at promtool's position", arguments: invalid)
    func refuses(_ input: String, _ position: String) {
        do {
            let expr = try Parser.parse(input)
            Issue.record("accepted: \(expr)")
        } catch {
            #expect(error.position.description == position, "\(error)")
        }
    }

    @Test("hostile nesting is an error, not a stack overflow: 100,000 parentheses, unary minus signs or powers")
    func hostileNesting() {
        for text in [String(repeating: "(", count: 100_000) + "x", String(repeating: "- ", count: 100_000) + "x",
                     Array(repeating: "2", count: 100_000).joined(separator: "^"), String(repeating: "sum(", count: 50_000) + "x"] {
            #expect(throws: PromQLError.self) { try Parser.parse(text) }
        }
        // A flat chain builds a tree a level per term: up to the height cap it parses (in linear time),
        // past it, 200,000 terms are refused quickly rather than printed, compared and freed by deep recursion.
        #expect(throws: Never.self) { try Parser.parse(Array(repeating: "x", count: 900).joined(separator: " + ")) }
        #expect(throws: PromQLError.self) { try Parser.parse(Array(repeating: "x", count: 200_000).joined(separator: " + ")) }
    }
}
