import CFormat

/// The normalised text of an expression, byte for byte as Prometheus 2.42's `String()`
/// prints it (`/api/v1/rules` shows it).
extension Expr: CustomStringConvertible {
    public var description: String {
        switch self {
        case .number(let value): return Self.format(value)
        case .string(let value): return Self.quote(value)
        case .selector(let selector): return Self.selector(selector, modifiers: true)
        case .matrix(let selector, let range):
            return Self.selector(selector, modifiers: false) + "[\(Self.duration(range))]" + Self.modifiers(at: selector.at, offset: selector.offset)
        case .subquery(let expr, let range, let step, let offset, let at):
            return "\(expr)[\(Self.duration(range)):\(step == 0 ? "" : Self.duration(step))]" + Self.modifiers(at: at, offset: offset)
        case .call(let name, let arguments): return "\(name)(\(arguments.map(\.description).joined(separator: ", ")))"
        case .aggregate(let op, let parameter, let expr, let grouping, let without):
            var text = op
            let names = grouping.map(Self.labelName).joined(separator: ", ")
            if without { text += " without (\(names)) " } else if !grouping.isEmpty { text += " by (\(names)) " }
            text += "("
            if let parameter { text += "\(parameter), " }
            return text + "\(expr))"
        case .binary(let op, let lhs, let rhs, let returnBool, let matching):
            var modifiers = returnBool ? " bool" : ""
            if let matching, matching.on || !matching.labels.isEmpty {
                modifiers += " \(matching.on ? "on" : "ignoring") (\(matching.labels.map(Self.labelName).joined(separator: ", ")))"
                if matching.cardinality == .manyToOne || matching.cardinality == .oneToMany {
                    modifiers += " group_\(matching.cardinality == .manyToOne ? "left" : "right") (\(matching.include.map(Self.labelName).joined(separator: ", ")))"
                }
            }
            return "\(lhs) \(op)\(modifiers) \(rhs)"
        case .unary(let op, let expr): return "\(op)\(expr)"
        case .paren(let expr): return "(\(expr))"
        }
    }

    static func selector(_ selector: VectorSelector, modifiers: Bool) -> String {
        let matchers = selector.matchers
            .filter { !($0.name == "__name__" && $0.kind == .equal && $0.value == selector.name) }
            .map { "\(labelName($0.name))\($0.kind.rawValue)\(quote($0.value))" }
            .sorted()
        let at = modifiers ? Self.modifiers(at: selector.at, offset: selector.offset) : ""
        // A name only Prometheus 3 reads (`{"http.requests"}`) is quoted inside the braces.
        if !selector.name.isEmpty && !isMetricName(selector.name) {
            return "{" + ([quote(selector.name)] + matchers).joined(separator: ", ") + "}" + at
        }
        return matchers.isEmpty ? selector.name + at : "\(selector.name){\(matchers.joined(separator: ","))}" + at
    }

    /// A label name as written: bare when Prometheus 2.42 reads it so, quoted otherwise (Prometheus 3).
    static func labelName(_ name: String) -> String { Parser.isLabelName(name) ? name : quote(name) }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first == ":" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0 == ":" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    static func modifiers(at: AtModifier?, offset: Int64) -> String {
        var text = ""
        switch at {
        case .timestamp(let milliseconds): text += " @ " + cFormat("%.3f", Double(milliseconds) / 1000)
        case .start: text += " @ start()"
        case .end: text += " @ end()"
        case nil: break
        }
        if offset > 0 { text += " offset \(duration(offset))" } else if offset < 0 { text += " offset -\(duration(-offset))" }
        return text
    }

    /// Prometheus's `model.Duration.String()`: years and weeks only when exact.
    static func duration(_ milliseconds: Int64) -> String {
        guard milliseconds != 0 else { return "0s" }
        var rest = milliseconds
        var text = ""
        for (unit, size, exact) in [("y", Int64(365 * 86_400_000), true), ("w", 7 * 86_400_000, true), ("d", 86_400_000, false),
                                    ("h", 3_600_000, false), ("m", 60_000, false), ("s", 1000, false), ("ms", 1, false)] {
            if exact && rest % size != 0 { continue }
            let count = rest / size
            if count > 0 {
                text += "\(count)\(unit)"
                rest -= count * size
            }
        }
        return text
    }

    /// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, as Prometheus prints number literals: the
    /// shortest digits that read back the same, with an exponent from 1e+06 up and below 1e-04.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        for digits in 1...17 {
            let scientific = cFormat("%.\(digits - 1)e", value)
            guard Double(scientific) == value, let e = scientific.firstIndex(of: "e"), let exponent = Int(scientific[scientific.index(after: e)...]) else { continue }
            if exponent < -4 || exponent >= 6 { return scientific }
            return cFormat("%.\(max(digits - 1 - exponent, 0))f", value)
        }
        return cFormat("%g", value)
    }

    /// Go's `%q`.
    static func quote(_ text: String) -> String { GoQuote.quote(text) }
}

/// `value` in lower-case hexadecimal, at least `digits` long.
private func hex(_ value: UInt32, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}

/// C's printf for one double (snprintf is variadic: the shim takes one value); GoTemplate's
/// `GoFormat.cFormat` is this too.
public func cFormat(_ format: String, _ value: Double) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> String in
        let needed = Int(mw_format_double(buffer.baseAddress!, 64, format, value))
        if needed < 64 { return String(cString: buffer.baseAddress!) }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: needed + 1) { large in
            _ = mw_format_double(large.baseAddress!, needed + 1, format, value)
            return String(cString: large.baseAddress!)
        }
    }
}

/// Go's `strconv` quoting, for text that must read as Prometheus's (printed expressions,
/// messages, templates' `printf "%q"`).
public enum GoQuote {
    /// `strconv.Quote`.
    public static func quote(_ text: String) -> String { quote(text, delimiter: "\"", asciiOnly: false) }

    /// `strconv.Quote` (`delimiter` "), `QuoteRune` ('), and with `asciiOnly` their `…ToASCII` forms.
    public static func quote(_ text: String, delimiter: Character, asciiOnly: Bool) -> String {
        var out = String(delimiter)
        for scalar in text.unicodeScalars {
            if Character(scalar) == delimiter || scalar == "\\" {
                out += "\\" + String(scalar)
                continue
            }
            if asciiOnly ? (scalar.isASCII && isPrint(scalar)) : isPrint(scalar) {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + hex(scalar.value, digits: 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, digits: 4)
                } else {
                    out += "\\U" + hex(scalar.value, digits: 8)
                }
            }
        }
        return out + String(delimiter)
    }

    /// Go's `strconv.IsPrint` (and `unicode.IsPrint`): letters, marks, numbers, punctuation,
    /// symbols and the ASCII space; no other space, control or format character.
    public static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }
}
