import Foundation
import MetricModel

/// A failure to read a response body as the Prometheus API's JSON.
public struct ResponseDecodingError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// Byte offset in the body where reading stopped.
    public let offset: Int
    /// The answer had more series than the caller accepts; reading stopped there.
    public var exceededSeriesLimit = false
    /// The reading task was cancelled (shutdown, a reload, a lost lease); reading stopped there.
    public var cancelled = false
    public var description: String { "\(message) at byte \(offset)" }
}

/// A forward-only reader over JSON bytes: just what Prometheus's response shapes need,
/// with no intermediate values.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Where reading next looks whether its task was cancelled (`checkCancellation`).
    private var nextCancellationCheck = JSONScanner.cancellationStride

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// How far reading goes between looks at its task's cancellation: a body of up to 64 MiB is
    /// read in one synchronous pass (seconds in a debug build or on a busy machine), and a cycle
    /// cancelled at shutdown must stop within the shutdown timeout's reserve, not at its end.
    static let cancellationStride = 1 << 20

    /// Throws a `cancelled` failure when the task reading has been cancelled; looks once per
    /// `cancellationStride` bytes read, so a cycle pays nothing measurable for it.
    @inline(__always)
    mutating func checkCancellation() throws(ResponseDecodingError) {
        guard index >= nextCancellationCheck else { return }
        nextCancellationCheck = index + Self.cancellationStride
        guard Task.isCancelled else { return }
        var error = failure("reading the answer was cancelled")
        error.cancelled = true
        throw error
    }

    /// Where a string's bytes lie, between its quotes.
    struct Span {
        var start: Int
        var end: Int
        var escaped: Bool
        var count: Int { end - start }
    }

    func failure(_ message: String) -> ResponseDecodingError {
        ResponseDecodingError(message: message, offset: index)
    }

    @inline(__always)
    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next significant byte, without consuming it.
    @inline(__always)
    mutating func peek() throws(ResponseDecodingError) -> UInt8 {
        skipSpace()
        guard index < bytes.count else { throw failure("unexpected end of JSON") }
        return bytes[index]
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(ResponseDecodingError) {
        guard try peek() == byte else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))', found '\(Character(Unicode.Scalar(bytes[index])))'")
        }
        index += 1
    }

    /// Consumes `byte` if it comes next.
    @inline(__always)
    mutating func consume(_ byte: UInt8) throws(ResponseDecodingError) -> Bool {
        if try peek() == byte {
            index += 1
            return true
        }
        return false
    }

    /// Consumes `{` and tells whether the object has members (false: `}` came at once).
    @inline(__always)
    mutating func enterObject() throws(ResponseDecodingError) -> Bool {
        try expect(UInt8(ascii: "{"))
        return try !consume(UInt8(ascii: "}"))
    }

    /// Consumes `[` and tells whether the array has elements (false: `]` came at once).
    @inline(__always)
    mutating func enterArray() throws(ResponseDecodingError) -> Bool {
        try expect(UInt8(ascii: "["))
        return try !consume(UInt8(ascii: "]"))
    }

    /// After a member or element: true when another follows (`,`), false at `close`.
    @inline(__always)
    mutating func another(close: UInt8) throws(ResponseDecodingError) -> Bool {
        let next = try peek()
        index += 1
        if next == UInt8(ascii: ",") { return true }
        if next == close { return false }
        index -= 1
        throw failure("expected ',' or '\(Character(Unicode.Scalar(close)))'")
    }

    /// Reads a string up to its closing quote and returns where its bytes lie.
    @inline(__always)
    mutating func stringSpan() throws(ResponseDecodingError) -> Span {
        try expect(UInt8(ascii: "\""))
        let start = index
        let base = bytes.baseAddress!
        var escaped = false
        var position = start
        while true {
            position = ByteHashing.firstSpecial(base, position, bytes.count)
            guard position < bytes.count else {
                index = position
                throw failure("unterminated string")
            }
            switch base[position] {
            case UInt8(ascii: "\""):
                index = position + 1
                return Span(start: start, end: position, escaped: escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                position += 2
            default:
                index = position
                throw failure("control character in string")
            }
        }
    }

    /// The bytes of a span.
    @inline(__always)
    func buffer(of span: Span) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: bytes.baseAddress! + span.start, count: span.count)
    }

    /// Byte-wise order of two spans (UTF-8 byte order is code point order, as Go sorts).
    func compare(_ lhs: Span, _ rhs: Span) -> Int {
        let common = min(lhs.count, rhs.count)
        let result = memcmp(bytes.baseAddress! + lhs.start, bytes.baseAddress! + rhs.start, common)
        return result != 0 ? Int(result) : lhs.count - rhs.count
    }

    func text(of span: Span) throws(ResponseDecodingError) -> String {
        if !span.escaped {
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[span.start..<span.end]), as: UTF8.self)
        }
        return String(decoding: try unescaped(span), as: UTF8.self)
    }

    mutating func string() throws(ResponseDecodingError) -> String {
        try text(of: try stringSpan())
    }

    /// Whether an unescaped span holds exactly `literal` (a static ASCII key).
    func span(_ span: Span, is literal: StaticString) -> Bool {
        guard !span.escaped, span.count == literal.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress! + span.start, literal.utf8Start, span.count) == 0
    }

    /// Reads an object key and its colon, returning the key's span.
    @inline(__always)
    mutating func key() throws(ResponseDecodingError) -> Span {
        let span = try stringSpan()
        try expect(UInt8(ascii: ":"))
        return span
    }

    /// Skips any JSON value.
    /// How deep skipped values may nest: Prometheus's answers are a few levels deep, and a
    /// hostile one of `[[[[…` must fail, not overflow the stack.
    static let maximumDepth = 64

    mutating func skipValue(depth: Int = 0) throws(ResponseDecodingError) {
        guard depth < Self.maximumDepth else { throw failure("values nested deeper than \(Self.maximumDepth) levels") }
        switch try peek() {
        case UInt8(ascii: "\""):
            _ = try stringSpan()
        case UInt8(ascii: "{"):
            guard try enterObject() else { return }
            repeat {
                try checkCancellation()
                _ = try key()
                try skipValue(depth: depth + 1)
            } while try another(close: UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            guard try enterArray() else { return }
            repeat {
                try checkCancellation()
                try skipValue(depth: depth + 1)
            } while try another(close: UInt8(ascii: "]"))
        default:
            let start = index
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09:
                    if index == start { throw failure("expected a value") }
                    return
                default: index += 1
                }
            }
            if index == start { throw failure("expected a value") }
        }
    }

    /// Reads `null` if it comes next.
    mutating func null() throws(ResponseDecodingError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        guard index + 4 <= bytes.count, memcmp(bytes.baseAddress! + index, "null", 4) == 0 else {
            throw failure("expected null")
        }
        index += 4
        return true
    }

    /// Reads a JSON number as Prometheus writes timestamps (seconds, up to millisecond
    /// decimals) and returns whole milliseconds.
    mutating func timestampMillis() throws(ResponseDecodingError) -> Int64 {
        _ = try peek()
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var whole: Int64 = 0
        var digits = 0
        while index < bytes.count, case let digit = bytes[index] &- 0x30, digit < 10, digits < 15 {
            whole = whole * 10 + Int64(digit)
            index += 1
            digits += 1
        }
        var millis: Int64 = 0
        var fractionDigits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, case let digit = bytes[index] &- 0x30, digit < 10, fractionDigits < 3 {
                millis = millis * 10 + Int64(digit)
                index += 1
                fractionDigits += 1
            }
        }
        let simple = digits > 0 && (index >= bytes.count || !Self.isNumberByte(bytes[index]))
        guard simple else {
            // Exponents, more than three decimals, huge values: the general path.
            index = start
            let seconds = try number()
            guard seconds.isFinite, abs(seconds) < 9e15 else { throw failure("timestamp out of range") }
            return Int64((seconds * 1000).rounded())
        }
        for _ in fractionDigits..<3 { millis *= 10 }
        let total = whole * 1000 + millis
        return negative ? -total : total
    }

    /// Reads any JSON number as a Double, correctly rounded.
    mutating func number() throws(ResponseDecodingError) -> Double {
        _ = try peek()
        let start = index
        while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
        guard let value = Self.parseDouble(bytes, start, index), value.isFinite else {
            throw failure("invalid number")
        }
        return value
    }

    /// Reads a sample value: a string holding a Go float (`"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`).
    mutating func sampleValue() throws(ResponseDecodingError) -> Double {
        let span = try stringSpan()
        guard !span.escaped, let value = Self.parseDouble(bytes, span.start, span.end) else {
            throw failure("invalid sample value")
        }
        return value
    }

    static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+"),
             UInt8(ascii: "e"), UInt8(ascii: "E"):
            return true
        default:
            return false
        }
    }
}
