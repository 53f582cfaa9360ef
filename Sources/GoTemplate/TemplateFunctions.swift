import Foundation
import PromQL
import MetricModel

/// A function a template may call, resolved when the template is parsed.
enum TemplateFunction: String, Sendable {
    case humanize, humanize1024, humanizeDuration, humanizePercentage, humanizeTimestamp
    case toUpper, toLower, title, stripPort, printf, reReplaceAll, match
    case eq, ne, lt, le, gt, ge, and, or, not, len, index
    // Go's builtins.
    case print, println, html, js, urlquery, slice, call
    // Prometheus's that need no query.
    case safeHtml, args, externalURL, pathPrefix, parseDuration, toTime, stripDomain
    // Prometheus's query functions.
    case query, first, label, value, strvalue, sortByLabel, graphLink, tableLink
}

/// The functions Prometheus gives alert templates, with Go's output to the character.
enum TemplateFunctions {
    static func call(_ function: TemplateFunction, _ arguments: [TemplateValue], externalURL: String = "",
                     query: TemplateQuery? = nil) throws(TemplateError) -> TemplateValue {
        let name = function.rawValue
        func argument(_ index: Int) throws(TemplateError) -> TemplateValue {
            guard index < arguments.count else {
                throw TemplateError("wrong number of args for \(name): want \(index + 1) got \(arguments.count)")
            }
            return arguments[index]
        }
        func number(_ index: Int) throws(TemplateError) -> Double { try float(try argument(index), function: name) }
        func text(_ index: Int) throws(TemplateError) -> String {
            let value = try argument(index)
            guard case .string(let string) = value else {
                throw TemplateError("error calling \(name): expected string; found \(value.printed)")
            }
            return string
        }

        switch function {
        case .print: return .string(TemplateBuiltins.sprint(arguments))
        case .println: return .string(TemplateBuiltins.sprintln(arguments))
        case .html: return .string(TemplateBuiltins.html(TemplateBuiltins.evalArgs(arguments)))
        case .js: return .string(TemplateBuiltins.js(TemplateBuiltins.evalArgs(arguments)))
        case .urlquery: return .string(TemplateBuiltins.urlquery(TemplateBuiltins.evalArgs(arguments)))
        case .slice: return try TemplateBuiltins.slice(arguments)
        case .safeHtml: return .string(try text(0))
        case .args:
            var fields: [String: TemplateValue] = [:]
            for (index, argument) in arguments.enumerated() { fields["arg\(index)"] = argument }
            return .interfaceMap(fields)
        case .externalURL: return .string(externalURL)
        case .pathPrefix: return .string(TemplateBuiltins.pathPrefix(externalURL))
        case .parseDuration:
            let source = try text(0)
            guard let duration = PrometheusDuration.parse(source) else {
                throw TemplateError("error calling parseDuration: not a valid duration string: \"\(source)\"")
            }
            let (seconds, attoseconds) = duration.components
            return .number(Double(seconds) + Double(attoseconds) / 1e18)
        case .toTime:
            let value = try number(0)
            if value.isNaN || value.isInfinite { throw TemplateError("error calling toTime: value is NaN or Inf") }
            if value * 1e9 > 9.223372036854775807e18 || value * 1e9 < -9.223372036854775808e18 {
                throw TemplateError("error calling toTime: \(GoFormat.float(value)) cannot be represented as a nanoseconds timestamp since it overflows int64")
            }
            return .string(humanizeTimestamp(value))
        case .stripDomain: return .string(TemplateBuiltins.stripDomain(try text(0)))
        case .humanize: return .string(humanize(try number(0)))
        case .humanize1024: return .string(humanize1024(try number(0)))
        case .humanizeDuration: return .string(humanizeDuration(try number(0)))
        case .humanizePercentage: return .string(GoFormat.g4(try number(0) * 100) + "%")
        case .humanizeTimestamp:
            let value = try number(0)
            // As Prometheus's floatToTime: past int64 nanoseconds is an error, not a wrapped time.
            if value.isFinite && (value * 1e9 > 9.223372036854775807e18 || value * 1e9 < -9.223372036854775808e18) {
                throw TemplateError("error calling humanizeTimestamp: \(GoFormat.float(value)) cannot be represented as a nanoseconds timestamp since it overflows int64")
            }
            return .string(humanizeTimestamp(value))
        case .toUpper: return .string(mapCase(try text(0), upper: true))
        case .toLower: return .string(mapCase(try text(0), upper: false))
        case .title: return .string(title(try text(0)))
        case .stripPort: return .string(stripPort(try text(0)))
        case .printf:
            return .string(GoPrintf.format(try text(0), Array(arguments.dropFirst())))
        case .reReplaceAll:
            let pattern = try text(0), replacement = try text(1), input = try text(2)
            let regex: GoRegex
            do throws(GoRegex.CompileError) { regex = try GoRegex(pattern) } catch {
                // Prometheus uses regexp.MustCompile: its panic, recovered by text/template.
                throw TemplateError("error calling reReplaceAll: regexp: Compile(\(GoPrintf.backquoted(pattern))): \(error)")
            }
            return .string(regex.replaceAll(input, with: replacement))
        case .match:
            let pattern = try text(0), input = try text(1)
            do throws(GoRegex.CompileError) { return .bool(try GoRegex(pattern).matches(input)) } catch {
                throw TemplateError("error calling match: \(error)")
            }
        case .eq:
            // Go: `eq a b c` is a == b || a == c.
            let first = try argument(0)
            _ = try argument(1)
            for other in arguments.dropFirst() where try compare(first, other, function: name) == .same { return .bool(true) }
            return .bool(false)
        case .ne, .lt, .le, .gt, .ge:
            guard arguments.count == 2 else { throw TemplateError("wrong number of args for \(name): want 2 got \(arguments.count)") }
            let order = try compare(arguments[0], arguments[1], function: name)
            // As Go defines them: le is lt or eq, gt is not le, ge is not lt (so NaN is gt and ge anything).
            let less = order == .less, same = order == .same
            switch function {
            case .ne: return .bool(!same)
            case .lt: return .bool(less)
            case .le: return .bool(less || same)
            case .gt: return .bool(!(less || same))
            default: return .bool(!less)
            }
        case .and:
            guard !arguments.isEmpty else { throw TemplateError("wrong number of args for and") }
            return arguments.first { !$0.isTrue } ?? arguments.last!
        case .or:
            guard !arguments.isEmpty else { throw TemplateError("wrong number of args for or") }
            return arguments.first { $0.isTrue } ?? arguments.last!
        case .not: return .bool(!(try argument(0)).isTrue)
        case .len:
            switch try argument(0) {
            case .string(let string): return .integer(Int64(string.utf8.count))
            case .map(let map): return .integer(Int64(map.count))
            case .interfaceMap(let fields): return .integer(Int64(fields.count))
            case .samples(let samples): return .integer(Int64(samples.count))
            case let other: throw TemplateError("error calling len: len of type \(other.typeName)")
            }
        case .index:
            switch try argument(0) {
            case .map(let map): return .string(map[try text(1)] ?? "")  // missingkey=zero: a missing label is ""
            case .interfaceMap(let fields): return fields[try text(1)] ?? .noValue
            case .samples(let samples):
                guard case .integer(let position) = try argument(1) else {
                    throw TemplateError("error calling index: cannot index slice/array with type \(try argument(1).typeName)")
                }
                guard position >= 0, position < samples.count else {
                    throw TemplateError("error calling index: index out of range: \(position)")
                }
                return .sample(samples[Int(position)])
            case .string(let string):
                // Go indexes a string by byte and gives the byte (a uint8).
                guard case .integer(let position) = try argument(1) else {
                    throw TemplateError("error calling index: cannot index slice/array with type \(try argument(1).typeName)")
                }
                let bytes = Array(string.utf8)
                guard position >= 0, position < bytes.count else {
                    throw TemplateError("error calling index: index out of range: \(position)")
                }
                return .integer(Int64(bytes[Int(position)]))
            case let other: throw TemplateError("error calling index: can't index item of type \(other.typeName)")
            }
        case .call:
            // Template data holds no functions: Go's call always fails here, as in Prometheus.
            guard let first = arguments.first else { throw TemplateError("wrong number of args for call: want at least 1 got 0") }
            throw TemplateError("error calling call: non-function of type \(first.typeName)")
        case .query:
            let expression = try text(0)
            guard let query else { throw TemplateError("error calling query: no datasource to query") }
            return .samples(try query(expression))
        case .first:
            let samples = try queryResult(try argument(0), at: 0)
            guard let first = samples.first else { throw TemplateError("error calling first: first() called on vector with no elements") }
            return .sample(first)
        case .label:
            let label = try text(0)
            return .string(try sample(try argument(1), at: 1, function: name).labels[label] ?? "")
        case .value: return .number(try sample(try argument(0), at: 0, function: name).value)
        case .strvalue: return .string(try sample(try argument(0), at: 0, function: name).labels["__value__"] ?? "")
        case .sortByLabel:
            let label = try text(0)
            let samples = try queryResult(try argument(1), at: 1)
            // Go's sort.Stable by the label's value, compared as bytes.
            let sorted = samples.enumerated().sorted { lhs, rhs in
                let a = lhs.element.labels[label] ?? "", b = rhs.element.labels[label] ?? ""
                return a.utf8.lexicographicallyPrecedes(b.utf8) || (a == b && lhs.offset < rhs.offset)
            }
            return .samples(sorted.map(\.element))
        case .graphLink: return .string("/graph?g0.expr=" + TemplateBuiltins.urlquery(try text(0)) + "&g0.tab=0")
        case .tableLink: return .string("/graph?g0.expr=" + TemplateBuiltins.urlquery(try text(0)) + "&g0.tab=1")
        }
    }

    /// A `template.queryResult` argument, or Go's error for another type.
    private static func queryResult(_ value: TemplateValue, at index: Int) throws(TemplateError) -> [QuerySample] {
        guard case .samples(let samples) = value else {
            throw TemplateError("wrong type for value; expected template.queryResult; got \(value.typeName)", argument: index)
        }
        return samples
    }

    /// A `*template.sample` argument; Go's nil pointer panic (recovered into an error) for nil.
    private static func sample(_ value: TemplateValue, at index: Int, function: String) throws(TemplateError) -> QuerySample {
        switch value {
        case .sample(let sample): return sample
        case .noValue, .missing:
            throw TemplateError("error calling \(function): runtime error: invalid memory address or nil pointer dereference")
        default:
            throw TemplateError("wrong type for value; expected *template.sample; got \(value.typeName)", argument: index)
        }
    }

    /// Prometheus's `convertToFloat`: numbers as they are, strings parsed.
    static func float(_ value: TemplateValue, function: String) throws(TemplateError) -> Double {
        switch value {
        case .number(let number): return number
        case .integer(let number): return Double(number)
        case .string(let text):
            guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw TemplateError("error calling \(function): strconv.ParseFloat: parsing \"\(text)\": invalid syntax")
            }
            return parsed
        default:
            throw TemplateError("error calling \(function): can't convert \(value.typeName) to float")
        }
    }

    enum Order { case less, same, greater, unordered }

    /// Go's comparison of two basic values: same kinds only (a float64 against an int constant
    /// is an error, as in Go); NaN is unordered, equal to nothing.
    private static func compare(_ lhs: TemplateValue, _ rhs: TemplateValue, function: String) throws(TemplateError) -> Order {
        func order<T: Comparable>(_ a: T, _ b: T) -> Order { a < b ? .less : (a > b ? .greater : (a == b ? .same : .unordered)) }
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): return order(a, b)
        case (.integer(let a), .integer(let b)): return order(a, b)
        case (.string(let a), .string(let b)): return order(a, b)
        case (.missing, .string(let b)): return order("", b)
        case (.string(let a), .missing): return order(a, "")
        case (.bool(let a), .bool(let b)) where function == "eq" || function == "ne": return a == b ? .same : .greater
        // Go: bools have no order, and values of no basic kind (maps, samples, nil) cannot be compared at all.
        case (.bool, .bool): throw TemplateError("error calling \(function): invalid type for comparison")
        case (.map, _), (_, .map), (.record, _), (_, .record), (.interfaceMap, _), (_, .interfaceMap), (.sample, _), (_, .sample),
             (.samples, _), (_, .samples) where function != "eq" && function != "ne":
            throw TemplateError("error calling \(function): invalid type for comparison")
        default: throw TemplateError("error calling \(function): incompatible types for comparison")
        }
    }

    static func humanize(_ input: Double) -> String {
        var value = input
        if value == 0 || value.isNaN || value.isInfinite { return GoFormat.g4(value) }
        var prefix = ""
        if abs(value) >= 1 {
            for candidate in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
                if abs(value) < 1000 { break }
                prefix = candidate
                value /= 1000
            }
        } else {
            for candidate in ["m", "u", "n", "p", "f", "a", "z", "y"] {
                if abs(value) >= 1 { break }
                prefix = candidate
                value *= 1000
            }
        }
        return GoFormat.g4(value) + prefix
    }

    static func humanize1024(_ input: Double) -> String {
        var value = input
        if abs(value) <= 1 || value.isNaN || value.isInfinite { return GoFormat.g4(value) }
        var prefix = ""
        for candidate in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
            if abs(value) < 1024 { break }
            prefix = candidate
            value /= 1024
        }
        return GoFormat.g4(value) + prefix
    }

    static func humanizeDuration(_ input: Double) -> String {
        var value = input
        if value.isNaN || value.isInfinite { return GoFormat.g4(value) }
        if value == 0 { return GoFormat.g4(value) + "s" }
        if abs(value) >= 1 {
            let sign = value < 0 ? "-" : ""
            value = abs(value)
            let duration = GoFormat.int64(value)  // Go's int64(v): from 2^63 up, Int64.min, as Prometheus prints it
            let seconds = duration % 60, minutes = (duration / 60) % 60
            let hours = (duration / 3600) % 24, days = duration / 86400
            if days != 0 { return "\(sign)\(days)d \(hours)h \(minutes)m \(seconds)s" }
            if hours != 0 { return "\(sign)\(hours)h \(minutes)m \(seconds)s" }
            if minutes != 0 { return "\(sign)\(minutes)m \(seconds)s" }
            return sign + GoFormat.g4(value) + "s"
        }
        var prefix = ""
        for candidate in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if abs(value) >= 1 { break }
            prefix = candidate
            value *= 1000
        }
        return GoFormat.g4(value) + prefix + "s"
    }

    /// Go's `time.Time.String()` in UTC: `2025-06-15 16:01:40.5 +0000 UTC`, at Prometheus's
    /// millisecond precision (2.42 goes through `model.TimeFromUnixNano(int64(v * 1e9))`,
    /// both steps truncating toward zero).
    static func humanizeTimestamp(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return GoFormat.g4(value) }
        // From about 9.2e9 up, v * 1e9 is past int64: Go's conversion gives Int64.min (year 1677), as Prometheus prints.
        let nanos = GoFormat.int64(value * 1e9) / 1_000_000 * 1_000_000
        var seconds = nanos / 1_000_000_000
        var fraction = nanos % 1_000_000_000
        if fraction < 0 { fraction += 1_000_000_000; seconds -= 1 }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(format: "%04d-%02d-%02d %02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                          parts.tm_hour, parts.tm_min, parts.tm_sec)
        if fraction != 0 {
            var digits = String(format: "%09lld", fraction)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + " +0000 UTC"
    }

    /// Go's deprecated `strings.Title`: upper-cases the first letter of each word.
    /// Go's `strings.Title`: the first letter of each word through `unicode.ToTitle`, a word
    /// starting after a separator as Go's `isSeparator` sees one.
    static func title(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var previous: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            out.append(isSeparator(previous) ? simpleCase(scalar, \.titlecaseMapping) : scalar)
            previous = scalar
        }
        return String(out)
    }

    /// Go's `strings.ToUpper`/`ToLower`: each scalar through its simple (one-to-one) case
    /// mapping, so `ß` stays `ß` and `İ` lowers to `i`, as Go's `unicode` tables map them.
    static func mapCase(_ text: String, upper: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append(simpleCase(scalar, upper ? \.uppercaseMapping : \.lowercaseMapping))
        }
        return String(out)
    }

    /// A scalar's simple case mapping: the full mapping when it is one scalar; else the
    /// titlecase one when that is (Greek with ypogegrammeni); U+0130 lowers to `i`; otherwise itself.
    static func simpleCase(_ scalar: Unicode.Scalar, _ mapping: KeyPath<Unicode.Scalar.Properties, String>) -> Unicode.Scalar {
        if scalar.isASCII {
            let value = scalar.value
            if mapping == \Unicode.Scalar.Properties.lowercaseMapping {
                return (0x41...0x5A).contains(value) ? Unicode.Scalar(value + 32)! : scalar
            }
            return (0x61...0x7A).contains(value) ? Unicode.Scalar(value - 32)! : scalar
        }
        if scalar == "\u{130}" && mapping == \Unicode.Scalar.Properties.lowercaseMapping { return "i" }
        let full = scalar.properties[keyPath: mapping].unicodeScalars
        if full.count == 1 { return full.first! }
        if mapping != \Unicode.Scalar.Properties.lowercaseMapping {
            let title = scalar.properties.titlecaseMapping.unicodeScalars
            if title.count == 1 { return title.first! }
        }
        return scalar
    }

    /// Go's `isSeparator` of `strings.Title`.
    static func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value
            return !((0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) || value == 0x5F)
        }
        if scalar.properties.isAlphabetic || scalar.properties.numericType != nil { return false }
        return scalar.properties.isWhitespace
    }

    static func stripPort(_ hostPort: String) -> String {
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            return String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
        }
        guard let colon = hostPort.lastIndex(of: ":"), hostPort.firstIndex(of: ":") == colon else { return hostPort }
        return String(hostPort[..<colon])
    }
}
