import Foundation
import PromClient
import MetricModel

/// Foundation's `JSONDecoder` reading the same responses as `ResponseDecoder`: the
/// yardstick for differential tests and the benchmark. Slow by design; never used by the
/// daemon.
public enum ReferenceDecoder {
    public static func decode(_ body: [UInt8]) throws -> APIResponse {
        let envelope = try JSONDecoder().decode(Envelope.self, from: Data(body))
        return APIResponse(status: envelope.status, result: envelope.data?.result, errorType: envelope.errorType,
                           error: envelope.error, warnings: envelope.warnings ?? [], infos: envelope.infos ?? [])
    }

    private struct Envelope: Decodable {
        let status: String
        let data: DataObject?
        let errorType: String?
        let error: String?
        let warnings: [String]?
        let infos: [String]?
    }

    private struct DataObject: Decodable {
        let result: QueryResult?

        enum CodingKeys: String, CodingKey { case resultType, result }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard let resultType = try container.decodeIfPresent(String.self, forKey: .resultType) else {
                result = nil
                return
            }
            switch resultType {
            case "vector":
                result = .vector(try container.decode([VectorElement].self, forKey: .result).compactMap { element in
                    element.value.map { Sample(labels: Labels(element.metric ?? [:]), point: $0.point) }
                })
            case "matrix":
                result = .matrix(try container.decode([MatrixElement].self, forKey: .result).compactMap { element in
                    guard let values = element.values, !values.isEmpty else { return nil }
                    return Series(labels: Labels(element.metric ?? [:]), points: values.map(\.point))
                })
            case "scalar":
                result = .scalar(try container.decode(Point.self, forKey: .result).point)
            case "string":
                let point = try container.decode(Point.self, forKey: .result)
                result = .string(timestampMillis: point.point.timestampMillis, value: point.text)
            default:
                throw DecodingError.dataCorruptedError(forKey: .resultType, in: container,
                                                       debugDescription: "unknown resultType \(resultType)")
            }
        }
    }

    private struct VectorElement: Decodable {
        let metric: [String: String]?
        let value: Point?
    }

    private struct MatrixElement: Decodable {
        let metric: [String: String]?
        let values: [Point]?
    }

    /// `[1700000000.123, "0.5"]`
    private struct Point: Decodable {
        let point: SamplePoint
        let text: String

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            let seconds = try container.decode(Double.self)
            text = try container.decode(String.self)
            let value: Double
            switch text {
            case "NaN": value = .nan
            case "+Inf": value = .infinity
            case "-Inf": value = -.infinity
            default: value = Double(text) ?? .nan
            }
            point = SamplePoint(timestampMillis: Int64((seconds * 1000).rounded()), value: value)
        }
    }
}
