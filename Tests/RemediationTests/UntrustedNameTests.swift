import Foundation
import MeshPacks
import PromQL
@testable import Remediation
import Testing

/// The worst label values, against the checks that stand between a label and a request.
@Suite("Untrusted names: Kubernetes's rules, paths, queries, PromQL literals, the kill switch")
struct UntrustedNameTests {
    static let hostile: [String] = [
        "bookinfo/../kube-system", "../../kube-system/deployments/coredns", "..", ".", "%2e%2e", "%2D", "%23", "reviews#", "reviews?dryRun=All#",
        "reviews?dryRun=All", "a\u{0}b", "a\nb", "a b", "\"", "'", "Reviews", "-reviews", "reviews-", "rëviews", "reviews/scale", "",
        String(repeating: "a", count: 300), "a..b", "a.", ".a", "\u{202E}sweiver",
    ]

    @Test("every hostile value is refused as a namespace and as a Deployment name, with a reason")
    func refused() throws {
        for value in Self.hostile {
            #expect(KubernetesName.labelProblem(value) != nil, "\(value.debugDescription)")
            // A few are valid subdomains but not labels ("a.b"); none of these is.
            #expect(KubernetesName.subdomainProblem(value) != nil, "\(value.debugDescription)")
            #expect(throws: InvalidKubernetesName.self) { try WorkloadRef(namespace: value, name: "reviews") }
            #expect(throws: InvalidKubernetesName.self) { try WorkloadRef(namespace: "bookinfo", name: value) }
        }
        #expect(KubernetesName.labelProblem("a\u{0}b") == "contains byte 0x00, outside a-z, 0-9 and -")
        #expect(KubernetesName.labelProblem(String(repeating: "a", count: 64)) == "is longer than 63 characters")
        let long = try? WorkloadRef(namespace: "bookinfo", name: String(repeating: "a", count: 300))
        #expect(long == nil)
    }

    @Test("valid names pass: what the API server accepts")
    func accepted() throws {
        for name in ["reviews", "reviews-v2", "a", "0", "istio-ingressgateway", String(repeating: "a", count: 63)] {
            #expect(KubernetesName.labelProblem(name) == nil, "\(name)")
        }
        #expect(KubernetesName.subdomainProblem("reviews.v2") == nil)
        #expect(try WorkloadRef(namespace: "bookinfo", name: "reviews").path == "/apis/apps/v1/namespaces/bookinfo/deployments/reviews")
    }

    @Test("the client refuses any path that is not plain segments, before it is sent")
    func paths() async throws {
        let client = KubernetesClient(connection: .init(server: "http://127.0.0.1:9"))
        for path in ["/apis/apps/v1/namespaces/bookinfo/../kube-system/deployments/coredns", "/api/v1/namespaces/a%2F..%2Fb/pods",
                     "/apis/apps/v1/namespaces/bookinfo/deployments/reviews?dryRun=All", "/apis/apps/v1/namespaces/bookinfo/deployments/reviews#",
                     "/api/v1/namespaces/a b/pods", "/api/v1/namespaces/a\u{0}/pods", "/api/v1/namespaces/a\n/pods", "/api//pods", "relative"] {
            #expect(KubernetesPath.problem(path) != nil, "\(path.debugDescription)")
            await #expect(throws: KubernetesError.self) {
                try await client.write(KubernetesWrite(path: path, patchType: .merge, body: [], dryRun: true))
            }
        }
        #expect(KubernetesPath.problem("/apis/networking.istio.io/v1beta1/namespaces/shop/destinationrules") == nil)
    }

    @Test("query values are percent-encoded, so nothing in them becomes a new parameter or a fragment")
    func query() {
        var query = KubernetesQuery()
        query.add("labelSelector", "app=reviews&dryRun=All#x")
        query.add("container", "a b/ü")
        #expect(query.encoded == "labelSelector=app%3Dreviews%26dryRun%3DAll%23x&container=a%20b%2F%C3%BC")
    }

    @Test("PromQL: a runbook query is parsed and label values filled into its strings; the printed query parses back to the same tree")
    func promql() throws {
        let template = #"sum(rate(x{namespace="{{ $labels.ns }}", pod=~"{{ $labels.pod }}-.*"}[5m]))"#
        let rendered = try StepTemplate.promql(template, labels: ["ns": #"a"} or topk(10, other_tenant_metric) #"#, "pod": "re.views(1)|x"])
        #expect(rendered == #"sum(rate(x{namespace="a\"} or topk(10, other_tenant_metric) #",pod=~"re\\.views\\(1\\)\\|x-.*"}[5m]))"#)
        let controls = try StepTemplate.promql(#"x{a='{{ $labels.v }}'}"#, labels: ["v": "it's\n\\\u{1}"])
        #expect(controls == #"x{a="it's\n\\\x01"}"#)
        // Raw strings hold placeholders too now: the printed query quotes the value as a Go string.
        #expect(try StepTemplate.promql("x{a=`{{ $labels.v }}`}", labels: ["v": "`\\"]) == #"x{a="`\\"}"#)
        #expect(throws: StepTemplate.Refused.self) { try StepTemplate.promql("x > {{ $labels.v }}", labels: ["v": "1 or vector(1)"]) }
        #expect(throws: StepTemplate.Refused.self) { try StepTemplate.promql(#"x{a="{{ printf "%s" $labels.v }}"}"#, labels: [:]) }
        #expect(throws: StepTemplate.Refused.self) { try StepTemplate.promql("{{ $labels.metric }}{a=\"b\"}", labels: ["metric": "up"]) }
        #expect(throws: StepTemplate.Refused.self) { try StepTemplate.promql("x{ {{ $labels.name }}=\"b\"}", labels: ["name": "a"]) }
        #expect(throws: StepTemplate.Refused.self) { try StepTemplate.promql("sum by ({{ $labels.l }}) (x)", labels: ["l": "a"]) }
        for runbook in RulePack.builtInPacks.flatMap({ RulePack.withDefaults($0.name).runbooks }) { for step in runbook.steps { #expect(StepTemplate.problem(step) == nil, "\(runbook.alert): \(step.name)") } }
        // A quote inside a comment opens nothing; a placeholder in a comment is refused.
        let hostile = #""} or {__name__=~".+"} or up{pod=""#
        let commented = try StepTemplate.promql("sum(x) # don't page\n + on() group(up{pod=\"{{ $labels.pod }}\"})", labels: ["pod": hostile])
        #expect(commented == #"sum(x) + on () group(up{pod="\"} or {__name__=~\".+\"} or up{pod=\""})"#, "\(commented)")
        #expect(try StepTemplate.promql("x{pod=~\n  \"{{ $labels.pod }}\"}", labels: ["pod": ".*"]) == #"x{pod=~"\\.\\*"}"#)
        #expect(throws: StepTemplate.Refused.self) { try StepTemplate.promql("x # {{ $labels.v }}", labels: [:]) }
        // label_replace's regex argument is regex-quoted too; its replacement is not.
        #expect(try StepTemplate.promql(#"label_replace(up, "d", "{{ $labels.r }}", "s", "{{ $labels.r }}")"#, labels: ["r": "a.b"])
                == #"label_replace(up, "d", "a.b", "s", "a\\.b")"#)
        // A metacharacter inside a grapheme cluster (U+0600 then "|") is quoted all the same; a
        // parenthesised regex argument stays a regex.
        #expect(try StepTemplate.promql(#"x{pod=~"p-{{ $labels.pod }}"}"#, labels: ["pod": "a\u{600}|"]) == #"x{pod=~"p-a\u0600\\|"}"#)
        #expect(try StepTemplate.promql(#"label_replace(up, "d", "$1", "s", ("{{ $labels.r }}"))"#, labels: ["r": ".*"])
                == #"label_replace(up, "d", "$1", "s", ("\\.\\*"))"#)
        // A metric name given as a __name__ matcher stays a matcher whatever the value.
        #expect(try StepTemplate.promql(#"{__name__="{{ $labels.m }}"}"#, labels: ["m": "up or vector(1)"]) == #"{__name__="up or vector(1)"}"#)
    }

    @Test("PromQL: for hostile values (quotes, backslashes, newlines, #, braces, regex syntax, non-ASCII, 200 kB) the query parses back to the template's tree with the value, exactly, in its place")
    func promqlRoundTrip() throws {
        let values = ["", "\"", "\\", "\\\"", "'", "`", "\n", "\r\n", "#", "\"} or vector(1) #", "a\"}[5m]) or up{x=\"",
                      ".*", "(a|b)+", "[", "\\Q", "ünïcödé ☃", "\u{0}", "\u{7F}", "\u{202E}", "{{ $labels.v }}", "$1",
                      String(repeating: "\"\\", count: 100_000)]
        let template = #"sum by (pod) (rate(x{ns="{{ $labels.v }}",pod=~"{{ $labels.v }}"}[5m])) > on (pod) group_left label_replace(y, "a", "{{ $labels.v }}", "b", "(.*)")"#
        let shape = try PromQL.Parser.parse(template.replacingOccurrences(of: "{{ $labels.v }}", with: "V"))
        for value in values {
            let rendered = try StepTemplate.promql(template, labels: ["v": value])
            let parsed = try PromQL.Parser.parse(rendered)
            let expected = shape.mappingStrings { text, position in
                text == "V" ? (position.isRegex ? StepTemplate.quoteMeta(value) : value) : text
            }
            #expect(parsed == expected, "value \(value.prefix(40).debugDescription)")
        }
    }

    @Test("http_check: a \"..\" value is one escaped segment")
    func httpCheckDots() throws {
        // http_check: a ".." value is one escaped segment, never a dot segment libcurl would resolve.
        #expect(try StepTemplate.url("http://reviews:9080/debug/{{ $labels.pod }}/health", labels: ["pod": ".."]) == "http://reviews:9080/debug/%2E%2E/health")
    }

    @Test("label substitution is one pass: a value that holds a placeholder is not expanded again")
    func onePass() {
        let alert = AlertContext(name: "X", labels: ["namespace": "{{ $labels.namespace }}{{ $labels.namespace }}"], activeAt: Date(), time: Date())
        #expect(RunbookRunner.substituteLabels("ns={{ $labels.namespace }}", alert) == "ns={{ $labels.namespace }}{{ $labels.namespace }}")
    }

    @Test("the kill switch fails closed: a file, a directory, a symlink (dangling or not), an unreadable file all count as set")
    func killSwitch() throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-ks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(KillSwitchFile.state(directory + "/absent") == nil)
        FileManager.default.createFile(atPath: directory + "/file", contents: Data())
        try FileManager.default.createDirectory(atPath: directory + "/dir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/dangling", withDestinationPath: directory + "/nowhere")
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: directory + "/file")
        FileManager.default.createFile(atPath: directory + "/unreadable", contents: Data(), attributes: [.posixPermissions: 0])
        for name in ["file", "dir", "dangling", "link", "unreadable"] {
            #expect(KillSwitchFile.state(directory + "/" + name) != nil, "\(name)")
        }
        // A path whose parent cannot be searched: not provably absent, so set.
        FileManager.default.createFile(atPath: directory + "/notadir", contents: Data())
        #expect(KillSwitchFile.state(directory + "/notadir/switch")?.contains("cannot be checked") == true)
    }

    @Test("the lease is held only while the last renewal is provably within the renew deadline (monotonic), never by a flag alone")
    func lease() {
        let leadership = Leadership(leading: false)
        #expect(leadership.leaseProblem() == "this replica is not the leader")
        leadership.set(true)
        let now = ContinuousClock.now
        leadership.renewed(sentAt: now - .seconds(1), renewDeadline: .seconds(10))
        #expect(leadership.leaseProblem(now: now) == nil)
        // Stopped past its lease (SIGSTOP), the flag still says leading: the clock says no.
        #expect(leadership.leaseProblem(now: now + .seconds(8))?.contains("not provably within renew_deadline") == true)
        #expect(Leadership(leading: true).leaseProblem() == nil)  // no leader election: always held
    }
}
