import Foundation
import Yams

/// A `promtool test rules` file, read so the same cases can run through meshwatchd's engine.
struct PromtoolTestFile: Decodable {
    struct Group: Decodable {
        var name: String?
        var interval: String?
        var input_series: [InputSeries]
        var alert_rule_test: [AlertTest]?
        var promql_expr_test: [ExprTest]?
        var external_labels: [String: String]?
        var external_url: String?
    }

    struct InputSeries: Decodable {
        var series: String
        var values: String
    }

    struct AlertTest: Decodable {
        var eval_time: String
        var alertname: String
        var exp_alerts: [ExpectedAlert]?
        /// meshwatchd-only: the rule's health and last error after the evaluation at eval_time.
        var exp_rule_health: String?
        var exp_rule_error: String?
    }

    /// A PromQL expression at a time and the samples it must return: with recording rules, their
    /// series and ALERTS/ALERTS_FOR_STATE as the rules wrote them.
    struct ExprTest: Decodable {
        var expr: String
        var eval_time: String
        var exp_samples: [ExpectedSample]?
    }

    struct ExpectedSample: Decodable {
        var labels: String
        var value: Double
    }

    struct ExpectedAlert: Decodable, Hashable {
        var exp_labels: [String: String]?
        var exp_annotations: [String: String]?
    }

    var rule_files: [String]
    var evaluation_interval: String?
    /// promtool evaluates groups in this order (without it, in no set order); meshwatchd's replay
    /// evaluates them in file order, so a case that gives it must give that order.
    var group_eval_order: [String]?
    var tests: [Group]
    /// meshwatchd-only: Prometheus's global `rule_query_offset`.
    var rule_query_offset: String?

    static func load(_ path: String) throws -> PromtoolTestFile {
        try YAMLDecoder().decode(PromtoolTestFile.self, from: String(contentsOfFile: path, encoding: .utf8))
    }
}

extension PromtoolTestFile.Group {
    /// The input series as OpenMetrics, sample `i` at `i × interval` seconds from the epoch,
    /// as promtool lays them out.
    func openMetrics(intervalSeconds: Int) throws -> String {
        var out = ""
        for input in input_series.sorted(by: { $0.series < $1.series }) {
            let (name, labels) = try Self.parseSeries(input.series)
            let labelText = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\($0.1.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" }.joined(separator: ",") + "}"
            for (index, value) in try Self.expand(input.values).enumerated() {
                guard let value else { continue }
                out += "\(name)\(labelText) \(value) \(index * intervalSeconds)\n"
            }
        }
        return out + "# EOF\n"
    }

    /// `name{a="b",c="d"}` → ("name", [(a, b), (c, d)]).
    static func parseSeries(_ text: String) throws -> (String, [(String, String)]) {
        guard let open = text.firstIndex(of: "{") else { return (text, []) }
        let name = String(text[..<open])
        var labels: [(String, String)] = []
        var rest = text[text.index(after: open)...].dropLast()  // without the closing brace
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: "=") else { throw CocoaError(.coderReadCorrupt) }
            let label = rest[..<equals].trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: ",")))
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            guard rest.first == "\"" else { throw CocoaError(.coderReadCorrupt) }
            rest = rest.dropFirst()
            var value = ""
            while let character = rest.first, character != "\"" {
                if character == "\\", let escaped = rest.dropFirst().first { value.append(escaped); rest = rest.dropFirst(2); continue }
                value.append(character)
                rest = rest.dropFirst()
            }
            rest = rest.dropFirst().drop { $0 == "," || $0 == " " }
            labels.append((label, value))
        }
        return (name, labels)
    }

    /// promtool's expanding notation: `a+bxn`, `a-bxn`, `axn`, `_`, `_xn`, and plain numbers.
    static func expand(_ values: String) throws -> [String?] {
        var out: [String?] = []
        for token in values.split(separator: " ") {
            if token == "_" { out.append(nil); continue }
            if token.hasPrefix("_x"), let count = Int(token.dropFirst(2)) { out += Array(repeating: nil, count: count); continue }
            guard let x = token.lastIndex(of: "x"), let count = Int(token[token.index(after: x)...]) else {
                out.append(String(token))
                continue
            }
            let body = token[..<x]
            var start = Double(body) ?? .nan, step = 0.0
            if start.isNaN {
                // a+b or a-b, where a may itself be negative.
                let searchFrom = body.index(after: body.startIndex)
                guard let sign = body[searchFrom...].firstIndex(where: { $0 == "+" || $0 == "-" }),
                      let a = Double(body[..<sign]), let b = Double(body[body.index(after: sign)...]) else {
                    throw CocoaError(.coderReadCorrupt)
                }
                start = a
                step = body[sign] == "+" ? b : -b
            }
            for i in 0...count { out.append(Self.number(start + Double(i) * step)) }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
