import MetricModel
import SwiftProtobuf

/// Samples to a remote-write 1.0 request body and back: a protobuf `WriteRequest`, one
/// `TimeSeries` per label set (in the order the label sets first appear, samples in the order
/// given), snappy block-compressed.
public enum WriteRequestEncoding {
    public static let contentType = "application/x-protobuf"
    public static let contentEncoding = "snappy"
    public static let versionHeader = "X-Prometheus-Remote-Write-Version"
    public static let version = "0.1.0"

    /// Prometheus's staleness marker: a NaN with this bit pattern ends a series at once.
    public static let staleNaN = Double(bitPattern: 0x7ff0_0000_0000_0002)

    public static func isStaleMarker(_ value: Double) -> Bool { value.bitPattern == staleNaN.bitPattern }

    /// The uncompressed protobuf.
    public static func protobuf(_ samples: [Sample]) -> [UInt8] {
        var request = Prometheus_WriteRequest()
        var index: [Labels: Int] = [:]
        for sample in samples {
            let point = Prometheus_Sample.with {
                $0.value = sample.point.value
                $0.timestamp = sample.point.timestampMillis
            }
            if let at = index[sample.labels] {
                request.timeseries[at].samples.append(point)
                continue
            }
            index[sample.labels] = request.timeseries.count
            request.timeseries.append(Prometheus_TimeSeries.with { series in
                series.labels = sample.labels.map { label in
                    Prometheus_Label.with {
                        $0.name = label.name
                        $0.value = label.value
                    }
                }
                series.samples = [point]
            })
        }
        // Serialising a message of plain strings, doubles and integers cannot fail.
        return (try? request.serializedBytes()) ?? []
    }

    /// The request body: the protobuf, snappy-compressed.
    public static func body(_ samples: [Sample]) -> [UInt8] { Snappy.compress(protobuf(samples)) }

    /// A request body back to samples (for receivers in tests and for checking).
    public static func decode(_ body: [UInt8]) throws -> [Sample] {
        let request = try Prometheus_WriteRequest(serializedBytes: try Snappy.uncompress(body))
        return request.timeseries.flatMap { series in
            let labels = Labels(series.labels.map { Label(name: $0.name, value: $0.value) })
            return series.samples.map { Sample(labels: labels, point: SamplePoint(timestampMillis: $0.timestamp, value: $0.value)) }
        }
    }
}
