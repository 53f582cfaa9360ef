import Foundation
import Synchronization

/// A Prometheus histogram of durations in seconds, per value of one label (or none): cumulative
/// `_bucket` series, `_sum` and `_count`, as client_golang exposes them. Safe to observe from any
/// task; the label values to show from zero are declared when they become known (the configured
/// groups and sinks), so a rate over them exists before the first event.
final class LatencyHistogram: Sendable {
    /// client_golang's default buckets, widened to a minute (a slow Prometheus or receiver).
    static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    let name: String
    let help: String
    /// The one label's name; nil: a single series without labels.
    let label: String?
    let buckets: [Double]

    private struct Series {
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
    }

    private let series: Mutex<[String: Series]>

    init(name: String, help: String, label: String? = nil, buckets: [Double] = LatencyHistogram.defaultBuckets) {
        precondition(buckets == buckets.sorted() && Set(buckets).count == buckets.count, "buckets must increase")
        self.name = name
        self.help = help
        self.label = label
        self.buckets = buckets
        series = Mutex(label == nil ? ["": Series(counts: Array(repeating: 0, count: buckets.count))] : [:])
    }

    /// Shows exactly these label values: new ones from zero, the others dropped (a group that a
    /// reload removed), as Prometheus's rule manager drops a removed group's series.
    func declare(_ values: [String]) {
        guard label != nil else { return }
        let empty = Series(counts: Array(repeating: 0, count: buckets.count))
        series.withLock { series in
            series = Dictionary(uniqueKeysWithValues: Set(values).map { ($0, series[$0] ?? empty) })
        }
    }

    func observe(_ duration: Duration, _ value: String = "") {
        observe(seconds: duration.seconds, value)
    }

    /// A negative or non-finite observation is not a duration and is dropped.
    func observe(seconds: Double, _ value: String = "") {
        guard seconds.isFinite, seconds >= 0 else { return }
        let key = label == nil ? "" : value
        let index = buckets.firstIndex { seconds <= $0 }
        series.withLock { series in
            var entry = series[key] ?? Series(counts: Array(repeating: 0, count: buckets.count))
            if let index { entry.counts[index] += 1 }
            entry.sum += seconds
            entry.count += 1
            series[key] = entry
        }
    }

    /// The family in Prometheus's text format.
    var exposition: String {
        let snapshot = series.withLock { $0 }
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for key in snapshot.keys.sorted() {
            let entry = snapshot[key]!
            let own = label.map { "\($0)=\"\(StatusRendering.escape(key))\"" }
            func labels(_ extra: String? = nil) -> String {
                let all = [own, extra].compactMap { $0 }
                return all.isEmpty ? "" : "{" + all.joined(separator: ",") + "}"
            }
            var cumulative: UInt64 = 0
            for (bound, count) in zip(buckets, entry.counts) {
                cumulative += count
                out += "\(name)_bucket\(labels("le=\"\(StatusRendering.number(bound))\"")) \(cumulative)\n"
            }
            out += "\(name)_bucket\(labels("le=\"+Inf\"")) \(entry.count)\n"
            out += "\(name)_sum\(labels()) \(StatusRendering.number(entry.sum))\n"
            out += "\(name)_count\(labels()) \(entry.count)\n"
        }
        return out
    }
}

extension LatencyHistogram {
    /// Every query the daemon's rules and templates send to Prometheus (one process, any reload).
    static let prometheusQueries = LatencyHistogram(
        name: "meshwatchd_prometheus_query_duration_seconds",
        help: "How long Prometheus took to answer a rule's or template's instant query, failures included.")
}
