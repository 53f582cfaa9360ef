import MetricModel

/// What a Prometheus query endpoint answered: the envelope with its result or its error.
public struct APIResponse: Sendable, Equatable {
    /// `success` or `error`.
    public var status: String
    public var result: QueryResult?
    public var errorType: String?
    public var error: String?
    public var warnings: [String]
    public var infos: [String]

    public init(status: String, result: QueryResult? = nil, errorType: String? = nil, error: String? = nil,
                warnings: [String] = [], infos: [String] = []) {
        self.status = status
        self.result = result
        self.errorType = errorType
        self.error = error
        self.warnings = warnings
        self.infos = infos
    }
}

/// Decodes Prometheus query responses straight from the bytes: a scanner that builds the
/// result model as it goes, with no intermediate `Any` and no `Codable` machinery. It is
/// the hot path of every evaluation cycle; `MeshFixtures.ReferenceDecoder` (JSONDecoder)
/// is the yardstick it is tested against.
public enum ResponseDecoder {
    /// Decodes `body`; a vector or matrix of more than `maxSeries` series stops the reading
    /// there (no memory or time is spent on the rest) with an error that says so.
    public static func decode(_ body: [UInt8], maxSeries: Int = .max) throws(ResponseDecodingError) -> APIResponse {
        let outcome = body.withUnsafeBufferPointer { buffer -> Result<APIResponse, ResponseDecodingError> in
            var reader = Reader(scanner: JSONScanner(buffer), maxSeries: maxSeries,
                                interner: StringInterner(capacity: StringInterner.capacity(forBody: buffer.count)))
            do throws(ResponseDecodingError) {
                return .success(try reader.envelope())
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}

/// One decoding pass: the scanner plus the strings seen so far.
private struct Reader {
    var scanner: JSONScanner
    let maxSeries: Int
    var interner: StringInterner

    init(scanner: JSONScanner, maxSeries: Int, interner: StringInterner) {
        self.scanner = scanner
        self.maxSeries = maxSeries
        self.interner = interner
    }

    /// Called before each series is read.
    mutating func admit(_ count: Int) throws(ResponseDecodingError) {
        try scanner.checkCancellation()
        guard count >= maxSeries else { return }
        var error = scanner.failure("the answer has more than \(maxSeries) series")
        error.exceededSeriesLimit = true
        throw error
    }

    mutating func envelope() throws(ResponseDecodingError) -> APIResponse {
        var response = APIResponse(status: "")
        var dataStart: Int?
        if try scanner.enterObject() {
            repeat {
                let key = try scanner.key()
                if scanner.span(key, is: "status") {
                    response.status = try scanner.string()
                } else if scanner.span(key, is: "data") {
                    if try scanner.null() { continue }
                    dataStart = scanner.index
                    try scanner.skipValue()
                } else if scanner.span(key, is: "errorType") {
                    response.errorType = try optionalString()
                } else if scanner.span(key, is: "error") {
                    response.error = try optionalString()
                } else if scanner.span(key, is: "warnings") {
                    response.warnings = try stringArray()
                } else if scanner.span(key, is: "infos") {
                    response.infos = try stringArray()
                } else {
                    try scanner.skipValue()
                }
            } while try scanner.another(close: UInt8(ascii: "}"))
        }
        scanner.skipSpace()
        guard scanner.index == scanner.bytes.count else { throw scanner.failure("trailing bytes after the response") }
        guard !response.status.isEmpty else { throw scanner.failure("response has no status") }
        if let dataStart {
            // `data` is read once the envelope is known to be whole; its own keys may come in any order.
            let end = scanner.index
            scanner.index = dataStart
            response.result = try data()
            scanner.index = end
        }
        return response
    }

    private mutating func data() throws(ResponseDecodingError) -> QueryResult? {
        var resultType: String?
        var resultStart: Int?
        guard try scanner.enterObject() else { return nil }
        var result: QueryResult?
        repeat {
            let key = try scanner.key()
            if scanner.span(key, is: "resultType") {
                resultType = try scanner.string()
            } else if scanner.span(key, is: "result") {
                if let resultType {
                    result = try self.result(of: resultType)
                } else {
                    resultStart = scanner.index
                    try scanner.skipValue()
                }
            } else {
                try scanner.skipValue()
            }
        } while try scanner.another(close: UInt8(ascii: "}"))
        if result == nil, let resultStart {
            guard let resultType else { throw scanner.failure("data has a result but no resultType") }
            let end = scanner.index
            scanner.index = resultStart
            result = try self.result(of: resultType)
            scanner.index = end
        }
        return result
    }

    private mutating func result(of resultType: String) throws(ResponseDecodingError) -> QueryResult {
        switch resultType {
        case "vector": return .vector(try vector())
        case "matrix": return .matrix(try matrix())
        case "scalar": return .scalar(try point())
        case "string":
            try scanner.expect(UInt8(ascii: "["))
            let timestamp = try scanner.timestampMillis()
            try scanner.expect(UInt8(ascii: ","))
            let value = try scanner.string()
            try scanner.expect(UInt8(ascii: "]"))
            return .string(timestampMillis: timestamp, value: value)
        default:
            throw scanner.failure("unknown resultType \(resultType)")
        }
    }

    private mutating func vector() throws(ResponseDecodingError) -> [Sample] {
        var samples: [Sample] = []
        guard try scanner.enterArray() else { return samples }
        repeat {
            try admit(samples.count)
            var labels = Labels.empty
            var value: SamplePoint?
            if try scanner.enterObject() {
                repeat {
                    let key = try scanner.key()
                    if scanner.span(key, is: "metric") {
                        labels = try metric()
                    } else if scanner.span(key, is: "value") {
                        value = try point()
                    } else {
                        try scanner.skipValue()  // "histogram": native histograms are not evaluated
                    }
                } while try scanner.another(close: UInt8(ascii: "}"))
            }
            if let value { samples.append(Sample(labels: labels, point: value)) }
        } while try scanner.another(close: UInt8(ascii: "]"))
        return samples
    }

    private mutating func matrix() throws(ResponseDecodingError) -> [Series] {
        var series: [Series] = []
        guard try scanner.enterArray() else { return series }
        repeat {
            try admit(series.count)
            var labels = Labels.empty
            var points: [SamplePoint] = []
            if try scanner.enterObject() {
                repeat {
                    let key = try scanner.key()
                    if scanner.span(key, is: "metric") {
                        labels = try metric()
                    } else if scanner.span(key, is: "values") {
                        if try scanner.enterArray() {
                            repeat {
                                try scanner.checkCancellation()
                                points.append(try point())
                            } while try scanner.another(close: UInt8(ascii: "]"))
                        }
                    } else {
                        try scanner.skipValue()
                    }
                } while try scanner.another(close: UInt8(ascii: "}"))
            }
            if !points.isEmpty { series.append(Series(labels: labels, points: points)) }
        } while try scanner.another(close: UInt8(ascii: "]"))
        return series
    }

    /// `[1700000000.123, "0.5"]`
    private mutating func point() throws(ResponseDecodingError) -> SamplePoint {
        try scanner.expect(UInt8(ascii: "["))
        let timestamp = try scanner.timestampMillis()
        try scanner.expect(UInt8(ascii: ","))
        let value = try scanner.sampleValue()
        try scanner.expect(UInt8(ascii: "]"))
        return SamplePoint(timestampMillis: timestamp, value: value)
    }

    /// A `metric` object. Prometheus writes label names sorted; the fingerprint is hashed
    /// from the bytes as they pass, and only an unsorted or escaped set takes the slow path.
    private mutating func metric() throws(ResponseDecodingError) -> Labels {
        var labels: [Label] = []
        labels.reserveCapacity(12)
        guard try scanner.enterObject() else { return .empty }
        var fingerprint = Labels.fingerprintSeed
        var fast = true
        var previousName: JSONScanner.Span?
        repeat {
            let name = try scanner.key()
            let value = try scanner.stringSpan()
            if fast {
                if name.escaped || value.escaped { fast = false }
                if let previousName, scanner.compare(previousName, name) >= 0 { fast = false }
                fingerprint = Labels.mixFingerprint(fingerprint, scanner.buffer(of: name))
                fingerprint = Labels.mixFingerprint(fingerprint, scanner.buffer(of: value))
                previousName = name
            }
            labels.append(Label(name: try intern(name), value: try intern(value)))
        } while try scanner.another(close: UInt8(ascii: "}"))
        return fast ? Labels(presorted: labels, fingerprint: fingerprint) : Labels(labels)
    }

    private mutating func intern(_ span: JSONScanner.Span) throws(ResponseDecodingError) -> String {
        if span.escaped { return try scanner.text(of: span) }
        return interner.string(scanner.bytes, span.start, span.end)
    }

    private mutating func optionalString() throws(ResponseDecodingError) -> String? {
        try scanner.null() ? nil : try scanner.string()
    }

    private mutating func stringArray() throws(ResponseDecodingError) -> [String] {
        if try scanner.null() { return [] }
        var strings: [String] = []
        guard try scanner.enterArray() else { return strings }
        repeat { strings.append(try scanner.string()) } while try scanner.another(close: UInt8(ascii: "]"))
        return strings
    }
}
