import Foundation
import PromQL

/// Go's `fmt.Sprintf` (Go 1.19, which Prometheus 2.42 is built with) for the values templates
/// hold: `int`, `float64`, `string`, `bool`, `map[string]string` and the others of
/// `TemplateValue`. Flags `+ - # 0 space`, widths and precisions (also `*` from an argument),
/// explicit argument indexes (`%[2]d`), every verb Go gives these types (`%v %T %t %d %b %o %O
/// %x %X %c %q %U %e %E %f %F %g %G %s`), and Go's text for everything that does not fit
/// (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA …)`, `%!(BADINDEX)`, `%!(BADWIDTH)`,
/// `%!(BADPREC)`, `%!(NOVERB)`).
enum GoPrintf {
    /// Go's `fmt` flags of one verb.
    struct Flags {
        var plus = false, minus = false, sharp = false, space = false, zero = false
        var width: Int?
        var precision: Int?
    }

    static func format(_ format: String, _ arguments: [TemplateValue]) -> String {
        var printer = Printer(format: Array(format.unicodeScalars), arguments: arguments)
        printer.run()
        return printer.out
    }

    private struct Printer {
        let format: [Unicode.Scalar]
        let arguments: [TemplateValue]
        var out = ""
        var argument = 0
        /// An explicit index was used: no `%!(EXTRA …)` at the end, as in Go.
        var reordered = false
        var goodIndex = true

        init(format: [Unicode.Scalar], arguments: [TemplateValue]) {
            self.format = format
            self.arguments = arguments
        }

        /// Go's `parsenum`: ASCII digits from `index`; past a million the rest of the format is taken.
        func number(_ index: Int, _ end: Int) -> (value: Int, present: Bool, next: Int) {
            var value = 0, present = false, next = index
            while next < end, format[next].value >= 0x30 && format[next].value <= 0x39 {
                if value > 1_000_000 || value < -1_000_000 { return (0, false, end) }
                value = value * 10 + Int(format[next].value - 0x30)
                present = true
                next += 1
            }
            return (value, present, next)
        }

        /// Go's `argNumber`: an explicit `[n]` at `index`.
        mutating func argumentNumber(_ index: Int) -> (next: Int, found: Bool) {
            guard index < format.count, format[index] == "[" else { return (index, false) }
            reordered = true
            // Go's parseArgNumber: the digits up to the first ']'.
            guard format.count - index >= 3 else { goodIndex = false; return (index + 1, false) }
            var close = index + 1
            while close < format.count, format[close] != "]" { close += 1 }
            guard close < format.count else { goodIndex = false; return (index + 1, false) }
            let (value, present, next) = number(index + 1, close)
            guard present, next == close else { goodIndex = false; return (close + 1, false) }
            guard value - 1 >= 0, value - 1 < arguments.count else { goodIndex = false; return (close + 1, true) }
            argument = value - 1
            return (close + 1, true)
        }

        /// Go's `intFromArg`: a `*` width or precision.
        mutating func integerArgument() -> Int? {
            guard argument < arguments.count else { return nil }
            defer { argument += 1 }
            guard case .integer(let value) = arguments[argument], value <= 1_000_000, value >= -1_000_000 else { return nil }
            return Int(value)
        }

        mutating func run() {
            var index = 0
            let end = format.count
            while index < end {
                var literal = index
                while literal < end, format[literal] != "%" { literal += 1 }
                out.unicodeScalars.append(contentsOf: format[index..<literal])
                index = literal
                guard index < end else { break }
                index += 1
                var flags = Flags()
                flagLoop: while index < end {
                    switch format[index] {
                    case "#": flags.sharp = true
                    case "0": flags.zero = !flags.minus
                    case "+": flags.plus = true
                    case "-": flags.minus = true; flags.zero = false
                    case " ": flags.space = true
                    default: break flagLoop
                    }
                    index += 1
                }
                goodIndex = true
                var (next, afterIndex) = argumentNumber(index)
                index = next
                if index < end, format[index] == "*" {
                    index += 1
                    if var width = integerArgument() {
                        if width < 0 { width = -width; flags.minus = true; flags.zero = false }
                        flags.width = width
                    } else {
                        out += "%!(BADWIDTH)"
                    }
                    afterIndex = false
                } else {
                    let (width, present, after) = number(index, end)
                    index = after
                    if present { flags.width = width }
                    if afterIndex && present { goodIndex = false }
                }
                if index + 1 < end, format[index] == "." {
                    index += 1
                    if afterIndex { goodIndex = false }
                    (next, afterIndex) = argumentNumber(index)
                    index = next
                    if index < end, format[index] == "*" {
                        index += 1
                        if let precision = integerArgument(), precision >= 0 {
                            flags.precision = precision
                        } else {
                            out += "%!(BADPREC)"
                        }
                        afterIndex = false
                    } else {
                        let (precision, present, after) = number(index, end)
                        index = after
                        flags.precision = present ? precision : 0
                    }
                }
                if !afterIndex { (next, afterIndex) = argumentNumber(index); index = next }
                guard index < end else { out += "%!(NOVERB)"; break }
                let verb = format[index]
                index += 1
                if verb == "%" { out += "%"; continue }
                guard goodIndex else { out += "%!\(verb)(BADINDEX)"; continue }
                guard argument < arguments.count else { out += "%!\(verb)(MISSING)"; continue }
                var verbFlags = flags
                var plusV = false, sharpV = false
                if verb == "v" {
                    plusV = flags.plus; verbFlags.plus = false
                    sharpV = flags.sharp; verbFlags.sharp = false
                }
                out += GoPrintf.print(arguments[argument], verb: verb, flags: verbFlags, plusV: plusV, sharpV: sharpV)
                argument += 1
            }
            if !reordered && argument < arguments.count {
                out += "%!(EXTRA " + arguments[argument...].map {
                    typeName($0) + "=" + GoPrintf.print($0, verb: "v", flags: Flags(), plusV: false, sharpV: false)
                }.joined(separator: ", ") + ")"
            }
        }
    }

    /// Go's type names, as `%T` and the error texts give them.
    static func typeName(_ value: TemplateValue) -> String {
        value.typeName
    }

    /// Go's `printArg` for one value.
    static func print(_ value: TemplateValue, verb: Unicode.Scalar, flags: Flags, plusV: Bool = false, sharpV: Bool = false) -> String {
        if verb == "T" { return pad(typeName(value), flags) }
        switch value {
        case .bool(let truth):
            guard verb == "t" || verb == "v" else { return bad(value, verb: verb, flags) }
            return pad(truth ? "true" : "false", flags)
        case .integer(let number): return integer(number, verb: verb, flags: flags) ?? bad(value, verb: verb, flags)
        case .number(let number): return float(number, verb: verb, flags: flags) ?? bad(value, verb: verb, flags)
        case .string(let text): return string(text, verb: verb, flags: flags, sharpV: sharpV) ?? bad(value, verb: verb, flags)
        case .missing: return string("", verb: verb, flags: flags, sharpV: sharpV) ?? bad(.string(""), verb: verb, flags)
        case .noValue:
            return verb == "v" ? pad("<nil>", flags) : "%!\(verb)(<nil>)"
        case .map(let labels):
            // Go prints each key and value with the verb; a bad verb shows in each.
            return "map[" + labels.map {
                print(.string($0.name), verb: verb, flags: flags) + ":" + print(.string($0.value), verb: verb, flags: flags)
            }.joined(separator: " ") + "]"
        case .interfaceMap(let fields):
            return "map[" + fields.sorted { $0.key < $1.key }.map {
                print(.string($0.key), verb: verb, flags: flags) + ":" + print($0.value, verb: verb, flags: flags)
            }.joined(separator: " ") + "]"
        case .record(let fields):
            let order = ["Labels", "ExternalLabels", "ExternalURL", "Value"]
            return "{" + order.compactMap { name in
                fields[name].map { (plusV ? name + ":" : "") + print($0, verb: verb, flags: flags, plusV: plusV) }
            }.joined(separator: " ") + "}"
        case .sample(let sample):
            // A pointer to a struct at the top: &{…}.
            return "&{" + print(.map(sample.labels), verb: verb, flags: flags) + " " + print(.number(sample.value), verb: verb, flags: flags) + "}"
        case .samples:
            return value.printed
        }
    }

    /// Go's `badVerb`: `%!verb(type=value)`, the value printed with %v and the verb's flags.
    private static func bad(_ value: TemplateValue, verb: Unicode.Scalar, _ flags: Flags) -> String {
        var plain = flags
        plain.sharp = false
        plain.plus = false
        return "%!\(verb)(\(typeName(value))=\(print(value, verb: "v", flags: plain)))"
    }

    private static func integer(_ value: Int64, verb: Unicode.Scalar, flags: Flags) -> String? {
        switch verb {
        case "v", "d": return integer(value, base: 10, upper: false, verb: verb, flags: flags)
        case "b": return integer(value, base: 2, upper: false, verb: verb, flags: flags)
        case "o", "O": return integer(value, base: 8, upper: false, verb: verb, flags: flags)
        case "x": return integer(value, base: 16, upper: false, verb: verb, flags: flags)
        case "X": return integer(value, base: 16, upper: true, verb: verb, flags: flags)
        case "c":
            let scalar = value >= 0 && value <= 0x10FFFF ? Unicode.Scalar(UInt32(value)) ?? "\u{FFFD}" : "\u{FFFD}"
            return pad(String(scalar), flags)
        case "q":
            let scalar = value >= 0 && value <= 0x10FFFF ? Unicode.Scalar(UInt32(value)) ?? "\u{FFFD}" : "\u{FFFD}"
            if flags.sharp && GoQuote.isPrint(scalar) { return pad("'" + String(scalar) + "'", flags) }
            return pad(GoQuote.quote(String(scalar), delimiter: "'", asciiOnly: flags.plus), flags)
        case "U":
            var digits = String(UInt64(bitPattern: value), radix: 16, uppercase: true)
            let minimum = max(flags.precision ?? 4, 4)
            if digits.count < minimum { digits = String(repeating: "0", count: minimum - digits.count) + digits }
            var text = "U+" + digits
            if flags.sharp, value >= 0, value <= 0x10FFFF, let scalar = Unicode.Scalar(UInt32(value)), GoQuote.isPrint(scalar) {
                text += " '" + String(scalar) + "'"
            }
            var plain = flags
            plain.zero = false
            return pad(text, plain)
        default: return nil
        }
    }

    /// Go's `fmt.fmtInteger`.
    private static func integer(_ value: Int64, base: Int, upper: Bool, verb: Unicode.Scalar, flags: Flags) -> String {
        let negative = value < 0
        var digits = String(value.magnitude, radix: base, uppercase: upper)
        var minimumDigits = 0
        if let precision = flags.precision {
            if precision == 0 && value == 0 { return String(repeating: " ", count: flags.width ?? 0) }
            minimumDigits = precision
        } else if flags.zero, let width = flags.width {
            minimumDigits = width - (negative || flags.plus || flags.space ? 1 : 0)
        }
        if digits.count < minimumDigits { digits = String(repeating: "0", count: minimumDigits - digits.count) + digits }
        if flags.sharp {
            switch base {
            case 2: digits = "0b" + digits
            case 8: if !digits.hasPrefix("0") { digits = "0" + digits }
            case 16: digits = (upper ? "0X" : "0x") + digits
            default: break
            }
        }
        if verb == "O" { digits = "0o" + digits }
        if negative { digits = "-" + digits } else if flags.plus { digits = "+" + digits } else if flags.space { digits = " " + digits }
        var plain = flags
        plain.zero = false
        return pad(digits, plain)
    }

    private static func float(_ value: Double, verb: Unicode.Scalar, flags: Flags) -> String? {
        guard "vbgGxXfeEF".unicodeScalars.contains(verb) else { return nil }
        var text: String
        if value.isNaN {
            text = "NaN"
        } else if value.isInfinite {
            text = value > 0 ? "+Inf" : "-Inf"
        } else {
            let precision = flags.precision ?? ("feEF".unicodeScalars.contains(verb) ? 6 : -1)
            switch verb {
            case "v", "g", "G":
                text = precision < 0 ? GoFormat.float(value) : GoFormat.cFormat("%.\(precision)g", value)
                if verb == "G" { text = text.uppercased() }
            case "x", "X":
                text = hexFloat(value, precision: precision, upper: verb == "X")
            case "b":
                text = binaryFloat(value)
            default:
                text = GoFormat.cFormat("%.\(precision)\(verb == "F" ? "f" : String(verb))", value)
            }
        }
        // Go's fmtFloat: a sign slot, NaN and Inf never zero-padded, NaN signed only when asked.
        var signed = text.hasPrefix("-") || text.hasPrefix("+") ? text : "+" + text
        if flags.sharp && verb != "b" && value.isFinite { signed = sharpened(signed, verb: verb, precision: flags.precision) }
        if flags.space && signed.hasPrefix("+") && !flags.plus { signed = " " + signed.dropFirst() }
        if value.isNaN || value.isInfinite {
            if value.isNaN && !flags.space && !flags.plus { signed = String(signed.dropFirst()) }
            var plain = flags
            plain.zero = false
            return pad(signed, plain)
        }
        if flags.plus || !signed.hasPrefix("+") {
            if flags.zero, !flags.minus, let width = flags.width, width > signed.count {
                return String(signed.first!) + String(repeating: "0", count: width - signed.count) + signed.dropFirst()
            }
            return pad(signed, flags)
        }
        return pad(String(signed.dropFirst()), flags)
    }

    private static func string(_ text: String, verb: Unicode.Scalar, flags: Flags, sharpV: Bool) -> String? {
        switch verb {
        case "v": return sharpV ? quoted(text, flags) : pad(truncate(text, flags), flags)
        case "s": return pad(truncate(text, flags), flags)
        case "x", "X": return hexString(text, upper: verb == "X", flags: flags)
        case "q": return quoted(text, flags)
        default: return nil
        }
    }

    private static func truncate(_ text: String, _ flags: Flags) -> String {
        guard let precision = flags.precision else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.prefix(precision)))
    }

    /// Go's `fmtQ`: backquoted with `#` when it can be, else quoted (ASCII only with `+`).
    private static func quoted(_ text: String, _ flags: Flags) -> String {
        let text = truncate(text, flags)
        if flags.sharp && canBackquote(text) { return pad("`" + text + "`", flags) }
        return pad(GoQuote.quote(text, delimiter: "\"", asciiOnly: flags.plus), flags)
    }

    /// Go's `fmtSx`: two hexadecimal digits a byte, with `#` (0x) and space (between bytes) flags.
    private static func hexString(_ text: String, upper: Bool, flags: Flags) -> String {
        var bytes = Array(text.utf8)
        if let precision = flags.precision, precision < bytes.count { bytes = Array(bytes.prefix(precision)) }
        guard !bytes.isEmpty else { return String(repeating: " ", count: flags.width ?? 0) }
        let prefix = upper ? "0X" : "0x"
        var out = flags.sharp ? prefix : ""
        for (index, byte) in bytes.enumerated() {
            if flags.space && index > 0 { out += flags.sharp ? " " + prefix : " " }
            let digits = String(byte, radix: 16, uppercase: upper)
            out += digits.count == 1 ? "0" + digits : digits
        }
        var plain = flags
        plain.zero = false
        return pad(out, plain)
    }

    /// Go's regexp `quote`: backquoted when it can be, else `strconv.Quote`d.
    static func backquoted(_ text: String) -> String {
        canBackquote(text) ? "`" + text + "`" : GoQuote.quote(text)
    }

    /// Go's `strconv.CanBackquote`: no backquote, no control character but tab, no U+FEFF.
    private static func canBackquote(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            scalar != "`" && scalar != "\u{FEFF}" && (scalar == "\t" || !(scalar.value < 0x20 || scalar.value == 0x7F))
        }
    }

    /// Go's `fmt.pad`: the width in runes, spaces (or zeros, when asked) on the left, or spaces on the right with `-`.
    static func pad(_ text: String, _ flags: Flags) -> String {
        guard let width = flags.width else { return text }
        let count = text.unicodeScalars.count
        guard count < width else { return text }
        if flags.minus { return text + String(repeating: " ", count: width - count) }
        return String(repeating: flags.zero ? "0" : " ", count: width - count) + text
    }
}
