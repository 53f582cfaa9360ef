import Foundation
import MeshFixtures
import MeshHTTP
@testable import PromClient
import Testing
import MetricModel

@Suite("ResponseDecoder on recorded and generated responses")
struct ResponseDecoderTests {
    @Test("recorded responses cover every result type and error")
    func recordedSetIsComplete() {
        let names = Set(Recorded.all)
        for expected in ["vector-ratio", "vector-nan", "vector-inf", "vector-escaped", "vector-empty", "scalar", "string",
                         "matrix", "error-bad-data", "error-execution", "hand-warnings", "hand-unavailable"] {
            #expect(names.contains(expected), "missing recorded response \(expected)")
        }
    }

    @Test("a vector keeps labels, millisecond timestamps and values")
    func vector() throws {
        let response = try ResponseDecoder.decode(try Recorded("vector-ratio").body)
        #expect(response.status == "success")
        guard case .vector(let samples) = response.result else { Issue.record("not a vector"); return }
        #expect(samples.count == 1)
        #expect(samples[0].labels["destination_service"] == "reviews.bookinfo.svc.cluster.local")
        #expect(samples[0].point.timestampMillis == 1_750_000_030_000)
        #expect(samples[0].value == 0.09090909090909091)
    }

    @Test("NaN, +Inf and -Inf decode as the special values")
    func specialValues() throws {
        guard case .vector(let nan) = try ResponseDecoder.decode(try Recorded("vector-nan").body).result else {
            Issue.record("not a vector"); return
        }
        #expect(nan.count == 2)
        #expect(nan[0].value.isNaN)
        #expect(nan[0].point.timestampMillis == 1_750_000_030_500)
        #expect(nan[1].value == 1)
        guard case .vector(let inf) = try ResponseDecoder.decode(try Recorded("vector-inf").body).result else {
            Issue.record("not a vector"); return
        }
        #expect(inf[0].value == .infinity)
        #expect(inf[0].labels.isEmpty)
        #expect(inf[1].value == -.infinity)
        #expect(inf[1].labels["sign"] == "negative")
    }

    @Test("escaped and non-ASCII label values come back as written")
    func escapes() throws {
        guard case .vector(let samples) = try ResponseDecoder.decode(try Recorded("vector-escaped").body).result else {
            Issue.record("not a vector"); return
        }
        #expect(samples[0].labels["note"] == "quote\"d back\\slash ünïcødé")
        #expect(samples[0].labels["__name__"] == "odd_labels")
    }

    @Test("scalar, string and matrix results")
    func otherResultTypes() throws {
        #expect(try ResponseDecoder.decode(try Recorded("scalar").body).result
                == .scalar(SamplePoint(timestampMillis: 1_750_000_030_000, value: 660)))
        #expect(try ResponseDecoder.decode(try Recorded("string").body).result
                == .string(timestampMillis: 1_750_000_030_000, value: "mesh"))
        guard case .matrix(let series) = try ResponseDecoder.decode(try Recorded("matrix").body).result else {
            Issue.record("not a matrix"); return
        }
        #expect(series.count == 1)
        #expect(series[0].labels["response_code"] == "503")
        #expect(series[0].points.map(\.value) == [0, 30, 60])
        #expect(series[0].points.map(\.timestampMillis) == [1_750_000_000_000, 1_750_000_015_000, 1_750_000_030_000])
        #expect(try ResponseDecoder.decode(try Recorded("vector-empty").body).result == .vector([]))
    }

    @Test("warnings and infos, in any key order")
    func warnings() throws {
        let response = try ResponseDecoder.decode(try Recorded("hand-warnings").body)
        #expect(response.warnings == ["remote read: partial data from store-1"])
        #expect(response.infos == ["PromQL info: metric might not be a counter"])
        guard case .vector(let samples) = response.result else { Issue.record("not a vector"); return }
        #expect(samples[0].value == -0.0005)
        #expect(samples[0].point.timestampMillis == 1_750_000_030_250)
    }

    @Test("the error envelope's errorType and error")
    func errorEnvelope() throws {
        let response = try ResponseDecoder.decode(try Recorded("error-bad-data").body)
        #expect(response.status == "error")
        #expect(response.errorType == "bad_data")
        #expect(response.error?.contains("unclosed left parenthesis") == true)
        #expect(response.result == nil)
    }

    @Test("agrees with JSONDecoder on every recorded response", arguments: Recorded.all.filter { $0 != "hand-proxy-502" })
    func agreesOnRecorded(name: String) throws {
        let body = try Recorded(name).body
        #expect(try ResponseDecoder.decode(body) == ReferenceDecoder.decode(body))
    }

    @Test("agrees with JSONDecoder on generated responses with escapes, Unicode and special values",
          arguments: 1...40)
    func agreesOnGenerated(seed: Int) throws {
        for body in [SyntheticResponses.vector(series: 150, seed: UInt64(seed), exotic: true),
                     SyntheticResponses.matrix(series: 20, points: 12, seed: UInt64(seed), exotic: true)] {
            let ours = try ResponseDecoder.decode(body)
            #expect(ours == (try ReferenceDecoder.decode(body)))
        }
    }

    @Test("the benchmark's 10,000-series response decodes the same as JSONDecoder")
    func agreesOnBenchmarkResponse() throws {
        let body = SyntheticResponses.vector(series: 10_000)
        let ours = try ResponseDecoder.decode(body)
        #expect(ours == (try ReferenceDecoder.decode(body)))
        guard case .vector(let samples) = ours.result else { Issue.record("not a vector"); return }
        #expect(samples.count == 10_000)
        // Fingerprints hashed from the bytes equal those computed from the strings.
        for sample in samples.prefix(500) {
            #expect(sample.labels.fingerprint == Labels(Array(sample.labels)).fingerprint)
        }
    }

    @Test("truncated or corrupted bodies throw, never crash")
    func malformed() throws {
        let body = try Recorded("vector-escaped").body
        for length in 0..<body.count {
            #expect(throws: ResponseDecodingError.self) { try ResponseDecoder.decode(Array(body.prefix(length))) }
        }
        for bad in [#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#,
                    #"{"status":"success","data":{"resultType":"vector","result":[]}} trailing"#,
                    #"{"status":"success","data":{"resultType":"tensor","result":[]}}"#,
                    #"{"data":{"resultType":"vector","result":[]}}"#,
                    "<html>502 Bad Gateway</html>"] {
            #expect(throws: ResponseDecodingError.self) { try ResponseDecoder.decode(Array(bad.utf8)) }
        }
    }

    @Test("sample values parse exactly as Double(String) does")
    func numberParsing() {
        var cases = ["0", "-0", "1", "0.1", "0.30000000000000004", "1e-7", "1E5", "123456789012345678",
                     "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "9007199254740993",
                     "0.000001", "3.141592653589793", "1e22", "1e23", "-2.5e-3", "100000000000000000000000"]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let value = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF)
            cases.append("\(value)")
            cases.append(String(format: "%.6f", Double(random.next() % 1_000_000_000) / 1000))
        }
        for text in cases {
            let bytes = Array(text.utf8)
            let parsed = bytes.withUnsafeBufferPointer { JSONScanner.parseDouble($0, 0, $0.count) }
            #expect(parsed?.bitPattern == Double(text)?.bitPattern, "\(text)")
        }
        for invalid in ["", "-", "1.2.3", "1e", "abc", "0x10", "1,5"] {
            let bytes = Array(invalid.utf8)
            #expect(bytes.withUnsafeBufferPointer { JSONScanner.parseDouble($0, 0, $0.count) } == nil, "\(invalid)")
        }
    }

    @Test("a hostile answer nested 200,000 deep is an error, not a stack overflow; a cap on series stops the reading")
    func hostileShapes() throws {
        let deep = Array(#"{"status":"success","data":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 200_000)
        #expect(throws: ResponseDecodingError.self) { try ResponseDecoder.decode(deep) }
        let three = Array(#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{},"value":[1,"2"]},{"metric":{},"value":[1,"3"]}]}}"#.utf8)
        #expect(throws: ResponseDecodingError.self) { try ResponseDecoder.decode(three, maxSeries: 2) }
        do {
            _ = try ResponseDecoder.decode(three, maxSeries: 2)
        } catch {
            #expect(error.exceededSeriesLimit)
        }
        #expect(try ResponseDecoder.decode(three, maxSeries: 3).result != nil)
    }

    /// A vector of `count` series, or one series of `count` points (a matrix): several megabytes.
    static func large(matrix: Bool, count: Int) -> [UInt8] {
        var text = #"{"status":"success","data":{"resultType":""# + (matrix ? "matrix" : "vector") + #"","result":["#
        if matrix {
            text += #"{"metric":{"__name__":"up"},"values":["#
            text += (0..<count).map { #"[\#(1_700_000_000 + $0).5,"\#($0)"]"# }.joined(separator: ",")
            text += "]}"
        } else {
            text += (0..<count).map { #"{"metric":{"__name__":"up","instance":"host-\#($0).example:9100"},"value":[1700000000,"\#($0)"]}"# }
                .joined(separator: ",")
        }
        return Array((text + "]}}").utf8)
    }

    @Test("a cancelled task stops reading a large answer (vector or matrix) within two megabytes, with an error that says so",
          arguments: [false, true])
    func cancelledReading(matrix: Bool) async throws {
        let body = Self.large(matrix: matrix, count: matrix ? 400_000 : 60_000)
        #expect(body.count > 4 * JSONScanner.cancellationStride)
        // Not cancelled: the whole answer is read.
        let whole = try ResponseDecoder.decode(body)
        switch whole.result {
        case .vector(let samples)?: #expect(!matrix && samples.count == 60_000)
        case .matrix(let series)?: #expect(matrix && series.first?.points.count == 400_000)
        default: Issue.record("unexpected result \(String(describing: whole.result))")
        }
        let task = Task { () -> ResponseDecodingError? in
            while !Task.isCancelled { await Task.yield() }
            do throws(ResponseDecodingError) {
                _ = try ResponseDecoder.decode(body)
                return nil
            } catch {
                return error
            }
        }
        task.cancel()
        let error = try #require(await task.value, "a cancelled task read the whole answer")
        #expect(error.cancelled && !error.exceededSeriesLimit)
        #expect(error.offset < 2 * JSONScanner.cancellationStride + 4096, "stopped at byte \(error.offset) of \(body.count)")
        #expect(error.description.contains("cancelled"))
    }

    @Test("interpreting an answer in a cancelled task stops with a `canceled` error (which the client throws as CancellationError)")
    func cancelledInterpretation() async throws {
        let body = Self.large(matrix: false, count: 60_000)
        let response = HTTPResponse(status: 200, headers: [], body: body, endpoint: "http://127.0.0.1:9/api/v1/query")
        let task = Task { () -> PrometheusError? in
            while !Task.isCancelled { await Task.yield() }
            do throws(PrometheusError) {
                _ = try PrometheusClient.interpret(response, query: "up")
                return nil
            } catch {
                return error
            }
        }
        task.cancel()
        let error = try #require(await task.value)
        #expect(error.kind == .canceled)
        // Not cancelled, the same answer reads whole.
        guard case .vector(let samples) = try PrometheusClient.interpret(response, query: "up").result else {
            Issue.record("not a vector")
            return
        }
        #expect(samples.count == 60_000)
    }
}
