import Foundation

/// JSON text written by hand where `JSONEncoder` costs more than the value (the state of every
/// alert instance, saved each cycle; findings; evidence). Byte for byte what `JSONEncoder` with
/// `.sortedKeys` and `.withoutEscapingSlashes` writes for the same values (tests compare), so a
/// finding's bytes, and the receivers' view of them, do not depend on which wrote them.
public enum JSONText {
    private static let hex = Array("0123456789abcdef".utf8)

    /// `text` as a JSON string: quotes, backslashes and control characters escaped (`\b`, `\f`,
    /// `\n`, `\r`, `\t` short, the others `\u00XX`), the rest (any Unicode, DEL, `/`) as it is.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied whole.
            var start = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if start < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
                start = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    out.append(UInt8(ascii: "u"))
                    out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "0"))
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A finite number as `JSONEncoder` writes a `Double`: Swift's shortest round-trip text,
    /// less a trailing `.0` (`1`, `-0`, `0.1`, `1e-07`, `1.5e+300`); false for NaN and the
    /// infinities, which `JSONEncoder` refuses.
    public static func appendEncoderNumber(_ number: Double, to out: inout [UInt8]) -> Bool {
        guard number.isFinite else { return false }
        let text = number.description.utf8
        if text.count > 2, text.last == UInt8(ascii: "0"), text[text.index(text.endIndex, offsetBy: -2)] == UInt8(ascii: ".") {
            out.append(contentsOf: text.dropLast(2))
        } else {
            out.append(contentsOf: text)
        }
        return true
    }

    /// `"key":` inside an object, after a comma unless it is the object's first member (the
    /// text so far ends with its `{`: no member's text ends so).
    public static func appendKey(_ key: String, to out: inout [UInt8]) {
        if out.last != UInt8(ascii: "{") { out.append(UInt8(ascii: ",")) }
        appendString(key, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    /// An array of strings.
    public static func appendArray(_ elements: [String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(element, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// The deepest nesting written: `JSONEncoder`'s limit (it refuses a 512th level), one below
    /// what `JSONValue.parse` reads.
    public static let maximumDepth = JSONValue.maximumDepth - 1

    /// The order of `.sortedKeys`: by UTF-8 bytes (Unicode scalars), not Swift's `<`, which
    /// compares canonical forms (`e` + U+0301 sorts with `é` there, with `e` here).
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                let order = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
                return order != 0 ? order < 0 : x.count < y.count
            }
        }
    }

    /// A string-to-string object, keys sorted as `.sortedKeys` sorts them.
    public static func appendObject(_ members: some Sequence<(String, String)>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in members.sorted(by: { precedes($0.0, $1.0) }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// What `JSONText` will not write: a number JSON cannot hold (NaN, an infinity), as
/// `JSONEncoder` refuses it, or nesting deeper than `JSONValue.parse` reads.
public enum JSONTextError: Error, CustomStringConvertible {
    case nonFinite(Double)
    case tooDeep

    public var description: String {
        switch self {
        case .nonFinite(let number): "\(number) cannot be written as JSON"
        case .tooDeep: "nested deeper than \(JSONText.maximumDepth), as JSONEncoder refuses to write"
        }
    }
}

extension JSONValue {
    /// Compact JSON text, keys sorted: the bytes `JSONEncoder` (`.sortedKeys`,
    /// `.withoutEscapingSlashes`) writes for this value. Throws for NaN or an infinity, as it does,
    /// and for nesting past `JSONText.maximumDepth`, as it does: `depth` is how many containers
    /// already enclose the value (a finding's `diagnostics` sit inside the finding: 1).
    public func appendJSON(to out: inout [UInt8], depth: Int = 0) throws {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let value):
            guard JSONText.appendEncoderNumber(value, to: &out) else { throw JSONTextError.nonFinite(value) }
        case .string(let value): JSONText.appendString(value, to: &out)
        case .array(let elements):
            guard depth < JSONText.maximumDepth else { throw JSONTextError.tooDeep }
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                try element.appendJSON(to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth < JSONText.maximumDepth else { throw JSONTextError.tooDeep }
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in members.sorted(by: { JSONText.precedes($0.key, $1.key) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONText.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                try value.appendJSON(to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `appendJSON`'s bytes on their own.
    public func jsonBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        try appendJSON(to: &out)
        return out
    }
}
