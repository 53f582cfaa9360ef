import AlertEngine
import Incidents
import Foundation
import Logging
import MeshFixtures
@testable import MeshWatchdCore
import MetricModel
import Remediation
import Testing

/// `meshwatchd report`: two generated weeks in a real Prometheus, the second worse than the
/// first, and a state directory with the week's alerts, findings and an action; every figure
/// checked against the arithmetic of the generated rates, and the HTML page opened in
/// headless Chromium.
@Suite("meshwatchd report: the weekly review from a generated fortnight, in Markdown and in Chromium")
struct ReportTests {
    static let end = Date(timeIntervalSince1970: 1_794_960_000)  // 2026-11-18T00:00:00Z, a midnight
    static let week = 7 * 86400.0
    static var start: Date { end.addingTimeInterval(-2 * week) }

    /// A counter growing at `first` per second in the first week and `second` in the second.
    static func counter(_ t: Double, _ first: Double, _ second: Double) -> Double {
        t <= week ? first * t : first * week + second * (t - week)
    }

    /// Two weeks at 10-minute steps: reviews fails 0.1/s then 0.5/s of ~10/s and gets slower;
    /// ratings sends a quarter of its requests in plain text in week one, none in week two, and
    /// is denied 0.2/s (403) in week two; istiod and two sidecars; a certificate renewed once.
    static func openMetrics() -> String {
        var series: [(String, (Double) -> Double)] = []
        let reviews = #"destination_service="reviews.shop.svc.cluster.local",destination_workload="reviews",destination_workload_namespace="shop",reporter="destination""#
        let ratings = #"destination_service="ratings.shop.svc.cluster.local",destination_workload="ratings",destination_workload_namespace="shop",reporter="destination""#
        series.append((#"istio_requests_total{\#(reviews),response_code="200",connection_security_policy="mutual_tls"}"#, { counter($0, 10, 10) }))
        series.append((#"istio_requests_total{\#(reviews),response_code="503",connection_security_policy="mutual_tls"}"#, { counter($0, 0.1, 0.5) }))
        series.append((#"istio_requests_total{\#(ratings),response_code="200",connection_security_policy="mutual_tls"}"#, { counter($0, 3, 4) }))
        series.append((#"istio_requests_total{\#(ratings),response_code="200",connection_security_policy="none"}"#, { counter($0, 1, 0) }))
        series.append((#"istio_requests_total{\#(ratings),response_code="403",connection_security_policy="mutual_tls"}"#, { counter($0, 0, 0.2) }))
        for (le, first, second) in [("100", 8.0, 5.0), ("250", 9.5, 9.0), ("500", 10.0, 10.0), ("+Inf", 10.1, 10.5)] {
            series.append((#"istio_request_duration_milliseconds_bucket{\#(reviews),le="\#(le)"}"#, { counter($0, first, second) }))
        }
        series.append((#"container_memory_working_set_bytes{namespace="istio-system",pod="istiod-1",container="discovery"}"#, { _ in 200 * 1_048_576 }))
        series.append((#"container_cpu_usage_seconds_total{namespace="istio-system",pod="istiod-1",container="discovery"}"#, { counter($0, 0.25, 0.25) }))
        series.append((#"container_memory_working_set_bytes{namespace="shop",pod="reviews-1",container="istio-proxy"}"#, { _ in 50 * 1_048_576 }))
        series.append((#"container_memory_working_set_bytes{namespace="shop",pod="ratings-1",container="istio-proxy"}"#, { _ in 70 * 1_048_576 }))
        series.append((#"container_cpu_usage_seconds_total{namespace="shop",pod="reviews-1",container="istio-proxy"}"#, { counter($0, 0.02, 0.03) }))
        let renewal = start.timeIntervalSince1970 + week + 3 * 86400
        series.append((#"certmanager_certificate_expiration_timestamp_seconds{namespace="istio-system",name="gateway"}"#,
                       { $0 + start.timeIntervalSince1970 < renewal ? renewal + 20 * 86400 : renewal + 90 * 86400 }))
        var out = ""
        for (name, value) in series {
            var t = 0.0
            while t <= 2 * week {
                out += "\(name) \(GoFloat.text(value(t))) \(Int(start.timeIntervalSince1970 + t))\n"
                t += 600
            }
        }
        return out + "# EOF\n"
    }

    /// A state directory with the fortnight's history: IstioHighErrorRate fired twice this week
    /// and once the week before, findings for two sinks, and a dry-run rollback.
    static func state(_ directory: String) throws {
        let store = try StateStore(path: directory + "/state.sqlite", logger: Logger(label: "test"))
        func transition(_ kind: AlertTransition.Kind, at: Double, workload: String) -> AlertTransition {
            let instance = AlertInstance(labels: Labels(["alertname": "IstioHighErrorRate", "severity": "critical", "destination_workload": workload]),
                                         annotations: .empty, state: kind == .firing ? .firing : .inactive, value: 0.05,
                                         activeAt: end.addingTimeInterval(-at - 120), firedAt: end.addingTimeInterval(-at))
            return AlertTransition(kind: kind, group: "meshwatchd-istio", rule: "IstioHighErrorRate", instance: instance, at: end.addingTimeInterval(-at))
        }
        var plan = NotificationPlan()
        for (sink, id, kind) in [("team", "f1", Finding.Kind.firing), ("team", "f2", .resolved), ("pager", "f3", .firing)] {
            plan.outgoing.append(OutgoingFinding(sink: sink, id: id, alertKey: "meshwatchd-istio/1", alertName: "IstioHighErrorRate", kind: kind, body: []))
        }
        try store.save(plan: plan, transitions: [transition(.firing, at: 2 * 86400, workload: "reviews"),
                                                    transition(.resolved, at: 2 * 86400 - 1800, workload: "reviews"),
                                                    transition(.firing, at: 86400, workload: "reviews"),
                                                    transition(.firing, at: 9 * 86400, workload: "ratings")])
        try store.record(RemediationDecision(outcome: .dryRun, action: .rolloutUndo, workload: "shop/reviews", alert: "IstioHighErrorRate",
                                             alertKey: "meshwatchd-istio/1", decidedBy: "mode", reason: "dry-run", at: end.addingTimeInterval(-86400 + 60)))
    }

    @Test("the figures: rates, error shares, percentiles and their changes, mTLS, denials, resources, renewals, alerts and actions")
    func figures() async throws {
        let directory = NSTemporaryDirectory() + "meshwatchd-report-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await offPool { try Self.state(directory) }
        let artifacts = ReportTests.artifacts
        // A fortnight of samples is a large string: built off the cooperative threads.
        let samples = await offPool { Self.openMetrics() }
        try await withPrometheus(openMetrics: samples) { prometheus async throws in
            let cli = CommandLineTests()
            let arguments = ["report", "--prometheus", prometheus.url, "--at", ISO8601DateFormatter().string(from: Self.end),
                             "--since", "7d", "--state-directory", directory]
            let markdown = try await cli.meshwatchd(arguments)
            #expect(markdown.status == 0, "\(markdown.stderr)")
            let text = markdown.stdout
            // reviews: 10.5 req/s (10.1 before: +4.0 %), 0.5/10.5 = 4.76 % errors (0.99 % before: +3.77 pp),
            // P50 100 + 150 × 0.25/4 = 109.4 ms, P95 250 + 250 × 0.975 = 493.8 ms, P99 at the last finite bound 500,
            // P95 before 250 + 250 × 0.19 = 297.5 ms: +66.0 %.
            #expect(text.contains("| reviews.shop.svc.cluster.local | 10.50 | +4.0 % | 4.76 % | +3.77 pp | 109.4 | 493.8 | 500.0 | +66.0 % |"), "\(text)")
            // ratings: 4.2 req/s (4.0 before, +5.0 %), no 5xx.
            #expect(text.contains("| ratings.shop.svc.cluster.local | 4.20 | +5.0 % | 0.00 % | +0.00 pp |"), "\(text)")
            // mTLS: all of 14.7 this week; (10.1 + 3) / 14.1 = 92.91 % before.
            #expect(text.contains("| this week | 100.00 % | +7.09 pp |") && text.contains("| week before | 92.91 % |"), "\(text)")
            // 0.2/s × 7 days denied.
            #expect(text.contains("| ratings.shop.svc.cluster.local | 120960 | 0 |"), "\(text)")
            #expect(text.contains("| istiod-1 | 0.250 | 200.0 MiB | 200.0 MiB |"), "\(text)")
            #expect(text.contains("| all sidecars (CPU: total; memory: per sidecar) | 0.030 | 60.0 MiB | 70.0 MiB |"), "\(text)")
            #expect(text.contains("| istio-system/gateway | 1 |"), "\(text)")
            #expect(text.contains("| IstioHighErrorRate | critical | 2 | 1 |"), "\(text)")
            #expect(text.contains("| rollout_undo | shop/reviews | dry-run |"), "\(text)")
            // Findings are counted when queued (now, in this test): they fall in the period only when it ends now.
            let now = try await cli.meshwatchd(["report", "--prometheus", prometheus.url, "--state-directory", directory])
            #expect(now.stdout.contains("| pager | firing | 1 |") && now.stdout.contains("| team | firing | 1 |") && now.stdout.contains("| team | resolved | 1 |"),
                    "\(now.stdout)")
            #expect(!text.contains("## Not available"), "\(text)")

            let page = artifacts + "/weekly-report.html"
            let html = try await cli.meshwatchd(arguments + ["--output", "html", "--file", page])
            #expect(html.status == 0, "\(html.stderr)")
            let source = try String(contentsOfFile: page, encoding: .utf8)
            // Self-contained: nothing to fetch when it is opened.
            #expect(!source.contains("http://") || !source.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
            #expect(!source.contains("https://") && !source.contains("<script") && !source.contains("<link"))

            // Headless Chromium renders it: the DOM after layout, and a screenshot for people.
            let profile = directory + "/chromium"
            let dump = try await ChildProcess.run("/usr/bin/chromium", Self.chromium(profile) + ["--dump-dom", "file://" + page])
            #expect(dump.status == 0, "\(dump.output.suffix(2000))")
            #expect(dump.output.contains("<td>reviews.shop.svc.cluster.local</td><td>10.50</td><td>+4.0 %</td><td>4.76 %</td>"), "\(dump.output.suffix(3000))")
            for chart in ["chart-requests-per-second", "chart-error-ratio", "chart-p95-latency", "chart-mtls-coverage"] {
                #expect(dump.output.contains("id=\"\(chart)\""), "\(chart)")
            }
            // Each chart's line has a point per hour of the week.
            let polylines = dump.output.components(separatedBy: "class=\"series\"").count - 1
            #expect(polylines == 4)
            let shot = artifacts + "/weekly-report.png"
            try? FileManager.default.removeItem(atPath: shot)
            let screenshot = try await ChildProcess.run("/usr/bin/chromium", Self.chromium(profile) + ["--screenshot=" + shot, "--window-size=1280,2200",
                                                                                                    "file://" + page])
            #expect(screenshot.status == 0, "\(screenshot.output.suffix(2000))")
            let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
            #expect(size > 20_000, "screenshot \(shot): \(size) bytes")
        }
    }

    @Test("a label value cannot add a line, HTML, a link or a cell to the Markdown report, nor markup to the HTML one")
    func hostileLabels() {
        let hostile = "x\n\n[login](https://evil) <img src=x> | y\r\nz"
        #expect(WeeklyReport.markdownCell(hostile) == #"x  \[login\](https://evil) &lt;img src=x&gt; \| y z"#)
        var report = WeeklyReport(mesh: "istio", from: Self.start, to: Self.end)
        report.services = [.init(service: "<script>alert(1)</script>", requestsPerSecond: 1, denied: 0)]
        report.charts = [.init(title: "Requests per second", unit: "req/s",
                               points: [.init(at: Self.start, value: 1), .init(at: Self.end, value: .infinity)])]
        let html = report.html()
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("inf") && !html.contains("nan"), "a non-finite value reached the SVG")
    }

    @Test("json and the errors: a wrong format or period is refused (64); an unreachable Prometheus exits 2")
    func refusals() async throws {
        let cli = CommandLineTests()
        #expect(try await cli.meshwatchd(["report", "--prometheus", "http://127.0.0.1:9", "--output", "pdf"]).status == 64)
        #expect(try await cli.meshwatchd(["report", "--prometheus", "http://127.0.0.1:9", "--since", "5m"]).status == 64)
        #expect(try await cli.meshwatchd(["report", "--prometheus", "http://127.0.0.1:9", "--mesh", "kuma"]).status == 64)
        let down = try await cli.meshwatchd(["report", "--prometheus", "http://127.0.0.1:\(try LoopbackPort.free())"])
        #expect(down.status == 2 && down.stderr.contains("does not answer"), "\(down.stderr)")
    }

    /// Chromium as root in a container: no sandbox, no GPU, a throwaway profile, nothing fetched.
    static func chromium(_ profile: String) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--no-first-run",
         "--disable-background-networking", "--disable-sync", "--disable-extensions", "--virtual-time-budget=2000"]
    }

    /// Where tests leave files for people to look at (the report page and its screenshot):
    /// `$MESHWATCHD_ARTIFACTS`, else `.build/test-artifacts` in the checkout.
    static var artifacts: String {
        let directory = ProcessInfo.processInfo.environment["MESHWATCHD_ARTIFACTS"] ?? PackTests.root + "/.build/test-artifacts"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}

/// Sample values as OpenMetrics text takes them.
enum GoFloat {
    static func text(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
