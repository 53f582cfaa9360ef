@testable import AlertEngine
@testable import GoTemplate
import Foundation
import Testing

@Suite("Templates as Prometheus expands them")
struct TemplateTests {
    func expand(_ source: String, labels: [String: String] = ["service": "reviews", "code": "503"], value: Double = 0.1234,
                external: [String: String] = ["cluster": "prod"]) throws -> String {
        try Template(source, name: "__alert_Test").execute(TemplateData(labels: labels, externalLabels: external,
                                                                         externalURL: "http://prom", value: value))
    }

    @Test("variables and fields", arguments: [
        ("{{ $labels.service }}", "reviews"), ("{{ .Labels.service }}", "reviews"), ("{{ $value }}", "0.1234"),
        ("{{ .Value }}", "0.1234"), ("{{ $externalLabels.cluster }}", "prod"), ("{{ .ExternalLabels.cluster }}", "prod"),
        ("{{ $externalURL }}", "http://prom"), ("{{ $labels.missing }}", ""),
        ("a {{- \"b\" -}} c", "abc"), ("x{{/* a comment */}}y", "xy"), ("{{ $x := $labels.code }}{{ $x }}", "503"),
    ])
    func variables(source: String, expected: String) throws {
        #expect(try expand(source) == expected)
    }

    @Test("with and range as Go's text/template runs them: dot, variables, else, break, continue, map order", arguments: [
        ("{{ with $labels.service }}[{{ . }}]{{ end }}", "[reviews]"),
        ("{{ with $labels.missing }}[{{ . }}]{{ else }}none{{ end }}", "none"),
        ("{{ with $x := $labels.code }}{{ $x }}/{{ . }}{{ end }}", "503/503"),
        ("{{ with .Labels }}{{ .service }}{{ end }}", "reviews"),
        ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", "code=503;service=reviews;"),
        ("{{ range $labels }}<{{ . }}>{{ end }}", "<503><reviews>"),
        ("{{ range $v := $labels }}{{ $v }},{{ end }}", "503,reviews,"),
        ("{{ range $k, $v := $labels }}{{ if eq $k \"service\" }}{{ break }}{{ end }}{{ $k }}{{ end }}", "code"),
        ("{{ range $k, $v := $labels }}{{ if eq $k \"code\" }}{{ continue }}{{ end }}{{ $k }}{{ end }}", "service"),
        ("{{ $n := \"\" }}{{ range $k, $v := $labels }}{{ $n = $k }}{{ end }}{{ $n }}", "service"),
        ("{{ range $k, $v := $labels }}{{ end }}{{ $labels.service }}", "reviews"),
        ("{{ with $labels }}{{ $.Labels.code }}{{ end }}", "503"),
    ])
    func withAndRange(source: String, expected: String) throws {
        #expect(try expand(source) == expected)
    }

    @Test("integer constants stay ints, as in Go: printf %d, comparisons of the same kind only, NaN equal to nothing, eq with several")
    func integers() throws {
        #expect(try expand("{{ printf \"%d|%v|%x|%05d\" 42 42 255 -7 }}") == "42|42|ff|-0007")
        #expect(try expand("{{ printf \"%f\" 3 }}") == "%!f(int=3)")
        #expect(try expand("{{ len \"abc\" | printf \"%d\" }}") == "3")
        #expect(try expand("{{ if gt $value 0.1 }}big{{ end }}") == "big")
        #expect(throws: TemplateError.self) { try expand("{{ if gt $value 1 }}big{{ end }}") }  // float64 against int: Go refuses
        #expect(try expand("{{ if gt 2 1 }}yes{{ end }}") == "yes")
        #expect(try expand("{{ eq $value $value }}", value: .nan) == "false")
        #expect(try expand("{{ ne $value $value }}", value: .nan) == "true")
        #expect(try expand("{{ gt $value 0.0 }} {{ lt $value 0.0 }} {{ ge $value 0.0 }} {{ le $value 0.0 }}", value: .nan) == "true false true false")
        #expect(try expand("{{ eq $labels.service \"ratings\" \"reviews\" }}") == "true")
        #expect(try expand("{{ eq $labels.missing \"\" }}") == "true")
        #expect(try expand("{{ 1234 | humanize }}") == "1.234k")
    }

    @Test("externalURL and pathPrefix from the configured external URL (promtool cannot run them: it has none)")
    func urls() throws {
        let template = try Template("{{ externalURL }}|{{ pathPrefix }}", name: "t")
        #expect(try template.execute(TemplateData(labels: [:], externalURL: "https://prom.example.com/prom", value: 0))
                == "https://prom.example.com/prom|/prom")
        #expect(try expand("{{ with args 1 \"a\" }}{{ . }}{{ end }}") == "map[arg0:1 arg1:a]")
        #expect(throws: TemplateError.self) { try expand("{{ parseDuration \"soon\" }}") }
        #expect(throws: TemplateError.self) { try expand("{{ slice \"abc\" 1 9 }}") }
        #expect(throws: TemplateError.self) { try expand("{{ toTime $value }}", value: .infinity) }
    }

    @Test("define, template and block: a defined template runs with the dot it is given; one calling itself stops with an error")
    func defineAndTemplate() throws {
        #expect(try expand(#"{{ define "svc" }}<{{ . }}>{{ end }}{{ template "svc" $labels.service }}|{{ template "svc" "x" }}"#) == "<reviews>|<x>")
        #expect(try expand(#"{{ block "b" .Labels }}{{ .code }}{{ end }}"#) == "503")
        #expect(try expand(#"{{ define "none" }}{{ . }}{{ end }}[{{ template "none" }}]"#) == "[<no value>]")
        #expect(throws: TemplateError.self) { try expand(#"{{ template "missing" }}"#) }
        #expect(throws: TemplateError.self) { try expand(#"{{ define "loop" }}{{ template "loop" }}{{ end }}{{ template "loop" }}"#) }
        #expect(throws: TemplateError.self) { try Template(#"{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}"#) }
        #expect(throws: TemplateError.self) { try Template(#"{{ define }}x{{ end }}"#) }
    }

    @Test("a variable not in scope is refused when parsed, as Go's parser refuses it (promtool: undefined variable)")
    func undefinedVariables() throws {
        for source in ["{{ $lables.job }}", "{{ $x }}", "{{ $x = 1 }}", "{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}",
                       "{{ range $k, $v := $labels }}{{ end }}{{ $k }}", #"{{ define "t" }}{{ $labels }}{{ end }}"#,
                       "{{ with $w := 1 }}{{ end }}{{ $w }}", "{{ if $nope }}x{{ end }}", "{{ if true }}{{ else if $nope }}{{ end }}"] {
            let failure = #expect(throws: TemplateError.self, "\(source)") { try Template(source, name: "__alert_A") }
            #expect(failure?.description.contains("undefined variable") == true, "\(failure?.description ?? "")")
        }
        #expect(try expand("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}") == "2")
        #expect(try expand("{{ range $k, $v := $labels }}{{ $k }}{{ else }}{{ end }}") == "codeservice")
        #expect(try expand(#"{{ define "t" }}{{ $ }}{{ end }}{{ template "t" "ok" }}"#) == "ok")
        #expect(try expand("{{ with $w := $labels.code }}{{ $w }}{{ else }}none{{ end }}") == "503")
    }

    @Test("an error in an else-if condition names its column, as Go's does")
    func elseIfPosition() throws {
        let template = try Template(#"{{ if false }}a{{ else if humanize "x" }}b{{ end }}"#, name: "__alert_A", prefixBytes: Template.alertPrefixBytes)
        let failure = #expect(throws: TemplateError.self) { try template.execute(TemplateData(labels: [:], value: 0)) }
        // promtool 2.42 gives 1:138 for this very template (112 bytes of definitions, then 26).
        #expect(failure?.description.hasPrefix(#"template: __alert_A:1:138: executing "__alert_A" at <humanize "x">: error calling humanize:"#) == true,
                "\(failure?.description ?? "")")
    }

    @Test("hostile templates never stop the process: deep nesting, deep parentheses, recursion through blocks, a huge printf width")
    func hostileTemplates() throws {
        let ifs = String(repeating: "{{if 1}}", count: 700) + "x" + String(repeating: "{{end}}", count: 700)
        #expect(throws: TemplateError.self) { try Template(ifs) }
        let parens = "{{" + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000) + "}}"
        #expect(throws: TemplateError.self) { try Template(parens) }
        let recursion = #"{{define "r"}}"# + String(repeating: "{{if 1}}", count: 12) + #"{{template "r" .}}"#
            + String(repeating: "{{end}}", count: 12) + #"{{end}}{{template "r" .}}"#
        #expect(throws: TemplateError.self) { try expand(recursion) }
        // Go's parsenum gives up past a million: the rest of the format is %!(NOVERB).
        #expect(try expand(#"{{ printf "%9000000000000000000d" 1 }}"#) == "%!(NOVERB)%!(EXTRA int=1)")
        #expect(try expand(#"{{ printf "%.99999999f" 1.5 }}"#) == "%!(NOVERB)%!(EXTRA float64=1.5)")
        #expect(try expand(#"{{ printf "[%c]" -1 }}"#) == "[\u{FFFD}]")
    }

    @Test("and and or stop once their result is known, as Go's do")
    func shortCircuit() throws {
        #expect(try expand(#"{{ and 0 (humanize "x") }}"#) == "0")
        #expect(try expand(#"{{ or 1 (humanize "x") }}"#) == "1")
        #expect(try expand(#"{{ and 1 "a" 2 }}|{{ or 0 "" }}|{{ 0 | or "b" }}"#) == "2||b")
        #expect(throws: TemplateError.self) { try expand(#"{{ and 1 (humanize "x") }}"#) }
    }

    @Test("variables live in their block as in Go: := in a block shadows and ends with it, = sets the outer one; many variables and blocks stay linear")
    func variableScopes() throws {
        #expect(try expand("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}") == "21")
        #expect(try expand("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}") == "2")
        #expect(try expand("{{ $x := 1 }}{{ range $k, $v := $labels }}{{ $x = $k }}{{ end }}{{ $x }}") == "service")
        // 5,000 variables then 5,000 blocks: each block used to copy every variable (4 s here); now a mark and a truncation.
        let source = (0..<5000).map { "{{$v\($0) := 1}}" }.joined() + String(repeating: "{{if 1}}{{end}}", count: 5000) + "{{ $v4999 }}"
        #expect(try expand(source) == "1")
    }

    @Test("with and range mistakes are refused when parsed")
    func withAndRangeMistakes() throws {
        for source in ["{{ break }}", "{{ with $labels }}x", "{{ range $a, $b := $labels }}{{ else }}{{ else }}{{ end }}",
                       "{{ with $a, $b := $labels }}{{ end }}", "{{ continue }}"] {
            #expect(throws: TemplateError.self, "\(source)") { try Template(source) }
        }
        #expect(throws: TemplateError.self) { try Template("{{ range 3 }}x{{ end }}").execute(TemplateData(labels: [:], value: 0)) }
        // A missing label is "" (missingkey=zero): Go cannot range over a string. An empty map runs else.
        #expect(throws: TemplateError.self) { try expand("{{ range $labels.missing }}x{{ end }}") }
        #expect(try expand("{{ range $externalLabels }}x{{ else }}empty{{ end }}", external: [:]) == "empty")
    }

    @Test("functions and pipes", arguments: [
        ("{{ $value | humanizePercentage }}", "12.34%"), ("{{ humanizePercentage $value }}", "12.34%"),
        ("{{ 1234567.0 | humanize }}", "1.235M"), ("{{ 0.00123 | humanize }}", "1.23m"), ("{{ 0 | humanize }}", "0"),
        ("{{ 1048576.0 | humanize1024 }}", "1Mi"), ("{{ 512 | humanize1024 }}", "512"),
        ("{{ 3661 | humanizeDuration }}", "1h 1m 1s"), ("{{ 90061 | humanizeDuration }}", "1d 1h 1m 1s"),
        ("{{ 0.5 | humanizeDuration }}", "500ms"), ("{{ 2.5 | humanizeDuration }}", "2.5s"), ("{{ 0 | humanizeDuration }}", "0s"),
        ("{{ 1750000000 | humanizeTimestamp }}", "2025-06-15 15:06:40 +0000 UTC"),
        ("{{ 1750000000.5 | humanizeTimestamp }}", "2025-06-15 15:06:40.5 +0000 UTC"),
        ("{{ printf \"%.2f\" $value }}", "0.12"), ("{{ printf \"%s=%v\" $labels.service $value }}", "reviews=0.1234"),
        ("{{ printf \"%d\" $value }}", "%!d(float64=0.1234)"), ("{{ printf \"%5.1f|%-6s|\" 3.14159 \"ab\" }}", "  3.1|ab    |"),
        ("{{ $labels.service | toUpper }}", "REVIEWS"), ("{{ \"ABC\" | toLower }}", "abc"),
        ("{{ \"hello mesh world\" | title }}", "Hello Mesh World"),
        (#"{{ reReplaceAll "(.*)\\.svc.*" "$1" "reviews.bookinfo.svc.cluster.local" }}"#, "reviews.bookinfo"),
        ("{{ \"10.0.0.1:9090\" | stripPort }}", "10.0.0.1"),
        ("{{ $value | printf \"%.1f\" }}", "0.1"),
    ])
    func functions(source: String, expected: String) throws {
        #expect(try expand(source) == expected)
    }

    @Test("if, else if, else and comparisons")
    func conditionals() throws {
        let source = "{{ if gt $value 0.5 }}high{{ else if gt $value 0.1 }}medium{{ else }}low{{ end }}"
        #expect(try expand(source, value: 0.9) == "high")
        #expect(try expand(source, value: 0.2) == "medium")
        #expect(try expand(source, value: 0.01) == "low")
        #expect(try expand("{{ if eq $labels.code \"503\" }}unavailable{{ end }}") == "unavailable")
        #expect(try expand("{{ if and $labels.service (not $labels.missing) }}yes{{ end }}") == "yes")
        #expect(try expand("{{ if $labels.missing }}set{{ else }}unset{{ end }}") == "unset")
    }

    @Test("errors: bad syntax fails to parse, bad calls fail to execute, both with Go-like text")
    func errors() throws {
        #expect(throws: TemplateError.self) { try Template("{{ if $value }}never closed", name: "t") }
        #expect(throws: TemplateError.self) { try Template("{{ $value ", name: "t") }
        #expect(throws: TemplateError.self) { try Template("{{ range $labels }}{{ end }", name: "t") }
        let failure = #expect(throws: TemplateError.self) { try expand("{{ humanize $labels.service }}") }
        #expect(failure?.description.contains("strconv.ParseFloat: parsing \"reviews\": invalid syntax") == true)
        #expect(throws: TemplateError.self) { try Template("{{ nosuchfunction 1 }}", name: "t") }
        #expect(throws: TemplateError.self) { try expand("{{ query \"up\" }}") }
    }

    @Test("Go's %v for floats", arguments: [
        (0.1, "0.1"), (1.5, "1.5"), (100, "100"), (123456, "123456"), (1e6, "1e+06"), (1234567, "1.234567e+06"),
        (0.0001, "0.0001"), (0.00001, "1e-05"), (2.5e-7, "2.5e-07"), (-3, "-3"), (1e21, "1e+21"), (0, "0"),
        (Double.nan, "NaN"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (0.30000000000000004, "0.30000000000000004"),
    ])
    func goFloat(value: Double, expected: String) {
        #expect(GoFormat.float(value) == expected)
    }
}
