import Foundation
@testable import MeshWatchdCore
import Testing

@Suite("latency histograms in Prometheus's text format")
struct LatencyHistogramTests {
    @Test("cumulative buckets, +Inf equal to the count, sum; declared label values from zero; removed ones dropped")
    func exposition() {
        let histogram = LatencyHistogram(name: "x_seconds", help: "X.", label: "sink", buckets: [0.1, 1])
        histogram.declare(["a\"b", "idle"])
        histogram.observe(seconds: 0.05, "a\"b")
        histogram.observe(seconds: 0.1, "a\"b")   // on a bound: counted in it (le is "less or equal")
        histogram.observe(seconds: 0.5, "a\"b")
        histogram.observe(seconds: 7, "a\"b")
        histogram.observe(seconds: .nan, "a\"b")  // not a duration: dropped
        histogram.observe(seconds: -1, "a\"b")
        let text = histogram.exposition
        #expect(text == """
            # HELP x_seconds X.
            # TYPE x_seconds histogram
            x_seconds_bucket{sink="a\\"b",le="0.1"} 2
            x_seconds_bucket{sink="a\\"b",le="1"} 3
            x_seconds_bucket{sink="a\\"b",le="+Inf"} 4
            x_seconds_sum{sink="a\\"b"} 7.65
            x_seconds_count{sink="a\\"b"} 4
            x_seconds_bucket{sink="idle",le="0.1"} 0
            x_seconds_bucket{sink="idle",le="1"} 0
            x_seconds_bucket{sink="idle",le="+Inf"} 0
            x_seconds_sum{sink="idle"} 0
            x_seconds_count{sink="idle"} 0

            """)
        histogram.declare(["idle"])
        #expect(!histogram.exposition.contains("a\\\"b"))
        #expect(histogram.exposition.contains("x_seconds_count{sink=\"idle\"} 0"))
    }

    @Test("without a label: one series, present before the first observation")
    func unlabelled() {
        let histogram = LatencyHistogram(name: "q_seconds", help: "Q.")
        #expect(histogram.exposition.contains("q_seconds_count 0\n"))
        histogram.observe(.milliseconds(20))
        #expect(histogram.exposition.contains("q_seconds_bucket{le=\"0.025\"} 1\n"))
        #expect(histogram.exposition.contains("q_seconds_bucket{le=\"0.01\"} 0\n"))
        #expect(histogram.exposition.contains("q_seconds_count 1\n"))
    }
}
