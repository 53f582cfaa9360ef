import Foundation

/// Go's `fmt.Sprintf` for what alert templates pass it: strings, floats and booleans with
/// `%s %v %d %f %e %g %q %x %t %%`, flags, width and precision, and Go's text for
/// mismatches (`%!d(float64=0.5)`, `%!v(MISSING)`, `%!(EXTRA …)`).
enum GoPrintf {
    static func format(_ format: String, _ arguments: [TemplateValue]) -> String {
        var out = ""
        var next = 0
        let characters = Array(format)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            guard character == "%" else { out.append(character); index += 1; continue }
            index += 1
            guard index < characters.count else { out += "%!(NOVERB)"; break }
            var flags = ""
            while index < characters.count, "-+ 0#".contains(characters[index]) { flags.append(characters[index]); index += 1 }
            // Go's parsenum: ASCII digits; past a million the rest of the format is given up (%!(NOVERB)).
            guard let width = Self.number(characters, &index) else { out += "%!(NOVERB)"; break }
            var precision: String?
            if index < characters.count, characters[index] == "." {
                index += 1
                guard let digits = Self.number(characters, &index) else { out += "%!(NOVERB)"; break }
                precision = digits.isEmpty ? "0" : digits
            }
            guard index < characters.count else { out += "%!(NOVERB)"; break }
            let verb = characters[index]
            index += 1
            if verb == "%" { out += "%"; continue }
            guard next < arguments.count else { out += "%!\(verb)(MISSING)"; continue }
            let argument = arguments[next]
            next += 1
            out += pad(render(verb: verb, argument: argument, flags: flags, precision: precision), width: Int(width) ?? 0,
                       left: flags.contains("-"), zero: flags.contains("0") && !flags.contains("-") && isNumeric(argument))
        }
        if next < arguments.count {
            out += "%!(EXTRA " + arguments[next...].map { "\($0.typeName)=\($0.printed)" }.joined(separator: ", ") + ")"
        }
        return out
    }

    /// The ASCII digits at `index` (maybe none), or nil when they pass 1,000,000 as Go's
    /// `parsenum` refuses them; `index` moves past them.
    private static func number(_ characters: [Character], _ index: inout Int) -> String? {
        var digits = ""
        var value = 0
        while index < characters.count, let ascii = characters[index].asciiValue, ascii >= 0x30 && ascii <= 0x39 {
            if value > 1_000_000 { return nil }
            value = value * 10 + Int(ascii - 0x30)
            digits.append(characters[index])
            index += 1
        }
        return digits
    }

    private static func isNumeric(_ value: TemplateValue) -> Bool {
        switch value {
        case .number, .integer: return true
        default: return false
        }
    }

    private static func render(verb: Character, argument: TemplateValue, flags: String, precision: String?) -> String {
        switch (verb, argument) {
        case ("v", _), ("s", .string), ("t", .bool):
            if case .number(let value) = argument, let precision {
                return cFormat("%\(flags).\(precision)g", value)
            }
            if case .string(let text) = argument, let precision, let limit = Int(precision) { return String(text.prefix(limit)) }
            var text = argument.printed
            if flags.contains("+"), case .number(let value) = argument, value >= 0 || value.isNaN { text = "+" + text }
            return text
        case ("c", .integer(let value)):
            guard value >= 0, value <= 0x10FFFF else { return "\u{FFFD}" }
            return Unicode.Scalar(UInt32(value)).map { String($0) } ?? "\u{FFFD}"
        case ("x", .number(let value)), ("X", .number(let value)):
            // Go's %x of a float64: hexadecimal mantissa, a binary exponent of at least two digits.
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
            var text = GoFormat.cFormat(verb == "x" ? "%a" : "%A", value)
            if let p = text.lastIndex(where: { $0 == "p" || $0 == "P" }) {
                let sign = text[text.index(after: p)]
                let digits = text[text.index(p, offsetBy: 2)...]
                if digits.count < 2 { text = String(text[...p]) + String(sign) + "0" + digits }
            }
            return text
        case ("d", .integer(let value)):
            return flags.contains("+") && value >= 0 ? "+\(value)" : String(value)
        case ("x", .integer(let value)), ("X", .integer(let value)):
            let digits = String(value.magnitude, radix: 16, uppercase: verb == "X")
            return (value < 0 ? "-" : "") + digits
        case ("q", .string(let text)):
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") + "\""
        case ("x", .string(let text)), ("X", .string(let text)):
            return text.utf8.map { String(format: verb == "x" ? "%02x" : "%02X", $0) }.joined()
        case ("f", .number(let value)), ("F", .number(let value)), ("e", .number(let value)), ("E", .number(let value)),
             ("g", .number(let value)), ("G", .number(let value)):
            if value.isNaN { return flags.contains("+") ? "+NaN" : "NaN" }
            if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
            if "gG".contains(verb) && precision == nil {
                let text = GoFormat.float(value)
                return flags.contains("+") && value >= 0 ? "+" + text : text
            }
            let cVerb = verb == "F" ? "f" : String(verb)
            return cFormat("%\(flags.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "0", with: "")).\(precision ?? "6")\(cVerb)", value)
        default:
            return "%!\(verb)(\(argument.typeName)=\(argument.printed))"
        }
    }

    private static func cFormat(_ format: String, _ value: Double) -> String {
        GoFormat.cFormat(format, value)
    }

    private static func pad(_ text: String, width: Int, left: Bool, zero: Bool) -> String {
        guard text.count < width else { return text }
        let padding = String(repeating: zero ? "0" : " ", count: width - text.count)
        if left { return text + padding }
        if zero, let sign = text.first, sign == "-" || sign == "+" { return String(sign) + padding + text.dropFirst() }
        return padding + text
    }
}
