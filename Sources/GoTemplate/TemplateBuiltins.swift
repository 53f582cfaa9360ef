import Foundation

/// Go's text/template builtins (`print`, `println`, `html`, `js`, `urlquery`, `slice`) and
/// Prometheus 2.42's functions that need no query (`safeHtml`, `args`, `externalURL`,
/// `pathPrefix`, `parseDuration`, `toTime`, `stripDomain`), with Go's output to the byte.
enum TemplateBuiltins {
    /// `fmt.Sprint`: operands printed with `%v`, a space between two that are not strings.
    static func sprint(_ arguments: [TemplateValue]) -> String {
        var out = ""
        var previousIsString = false
        for (index, argument) in arguments.enumerated() {
            let isString = { if case .string = argument { return true } else { return false } }()
            if index > 0 && !isString && !previousIsString { out += " " }
            out += argument.printed
            previousIsString = isString
        }
        return out
    }

    /// `fmt.Sprintln`: spaces between all operands, a newline after.
    static func sprintln(_ arguments: [TemplateValue]) -> String {
        arguments.map(\.printed).joined(separator: " ") + "\n"
    }

    /// What `html`, `js` and `urlquery` escape: one string as it is, else `fmt.Sprint` of all.
    static func evalArgs(_ arguments: [TemplateValue]) -> String {
        if arguments.count == 1, case .string(let text) = arguments[0] { return text }
        return sprint(arguments)
    }

    /// `template.HTMLEscapeString`.
    static func html(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `template.JSEscapeString` (Go 1.19/1.20, as Prometheus 2.42 was built).
    static func js(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\"": out += "\\\""
            case "<": out += "\\u003C"
            case ">": out += "\\u003E"
            case "&": out += "\\u0026"
            case "=": out += "\\u003D"
            case _ where scalar.value < 0x20: out += "\\u00" + String(format: "%02X", scalar.value)
            case _ where scalar.value >= 0x80 && !isPrint(scalar): out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Go's `unicode.IsPrint` for a non-ASCII scalar: letters, marks, numbers, punctuation,
    /// symbols, and no space but U+0020.
    static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
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

    /// `url.QueryEscape`: unreserved bytes kept, a space as `+`, every other byte `%XX`.
    static func urlquery(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "): out += "+"
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `slice s i j` on a string, by bytes as Go slices it.
    static func slice(_ arguments: [TemplateValue]) throws(TemplateError) -> TemplateValue {
        guard let first = arguments.first else { throw TemplateError("wrong number of args for slice: want at least 1 got 0") }
        guard case .string(let text) = first else { throw TemplateError("error calling slice: can't slice item of type \(first.typeName)") }
        guard arguments.count <= 3 else { throw TemplateError("error calling slice: too many slice indexes: \(arguments.count - 1)") }
        var indexes: [Int] = []
        for argument in arguments.dropFirst() {
            guard case .integer(let value) = argument else {
                throw TemplateError("error calling slice: cannot index slice/array with type \(argument.typeName)")
            }
            indexes.append(Int(clamping: value))
        }
        let bytes = Array(text.utf8)
        let low = indexes.first ?? 0, high = indexes.count > 1 ? indexes[1] : bytes.count
        for index in indexes where index < 0 || index > bytes.count {
            throw TemplateError("error calling slice: index out of range: \(index)")
        }
        guard low <= high else { throw TemplateError("error calling slice: invalid slice index: \(low) > \(high)") }
        return .string(String(decoding: bytes[low..<high], as: UTF8.self))
    }

    /// Prometheus's `stripDomain`: a host name cut at its first dot, the port kept; IP addresses as they are.
    static func stripDomain(_ hostPort: String) -> String {
        var host = hostPort
        var port: String?
        if let (splitHost, splitPort) = splitHostPort(hostPort) { host = splitHost; port = splitPort }
        if isIPAddress(host) { return hostPort }
        host = String(host.split(separator: ".", omittingEmptySubsequences: false).first ?? "")
        guard let port, !port.isEmpty else { return host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// `net.SplitHostPort`, for the forms it accepts (`host:port`, `[v6]:port`).
    static func splitHostPort(_ text: String) -> (String, String)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            return (String(text[text.index(after: text.startIndex)..<close]), String(text[text.index(close, offsetBy: 2)...]))
        }
        guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// The path of the external URL (Prometheus's `pathPrefix`).
    static func pathPrefix(_ externalURL: String) -> String {
        URLComponents(string: externalURL)?.percentEncodedPath ?? ""
    }
}

/// Go's `regexp` replacement on top of Foundation's engine: `ReplaceAllString`'s
/// `$1`/`${1}`/`$name`/`${name}`/`$$` expansion and its rule for empty matches.
enum GoRegexp {
    /// RE2's `(?P<name>…)` as ICU writes it.
    static func compile(_ pattern: String) throws -> NSRegularExpression {
        try NSRegularExpression(pattern: pattern.replacingOccurrences(of: "(?P<", with: "(?<"))
    }

    /// The names of the pattern's capture groups, by group number (0 and unnamed ones empty).
    static func groupNames(_ pattern: String, count: Int) -> [String] {
        var names = [String](repeating: "", count: count + 1)
        var index = 0
        var group = 0
        let scalars = Array(pattern.unicodeScalars)
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\" { index += 2; continue }
            if scalar == "[" {
                // Skip a class: parentheses in it are literal.
                index += 1
                if index < scalars.count && scalars[index] == "^" { index += 1 }
                if index < scalars.count && scalars[index] == "]" { index += 1 }
                while index < scalars.count && scalars[index] != "]" { index += scalars[index] == "\\" ? 2 : 1 }
                index += 1
                continue
            }
            if scalar == "(" {
                let rest = scalars[(index + 1)...]
                func starts(_ prefix: String) -> Bool { rest.starts(with: prefix.unicodeScalars) }
                if starts("?P<") || (starts("?<") && !starts("?<=") && !starts("?<!")) {
                    group += 1
                    let start = rest.startIndex + (starts("?P<") ? 3 : 2)
                    if let close = rest[start...].firstIndex(of: ">"), group < names.count {
                        names[group] = String(String.UnicodeScalarView(rest[start..<close]))
                    }
                } else if !starts("?") {
                    group += 1
                }
            }
            index += 1
        }
        return names
    }

    static func replaceAll(_ regex: NSRegularExpression, pattern: String, in input: String, with template: String) -> String {
        let source = input as NSString
        let names = groupNames(pattern, count: regex.numberOfCaptureGroups)
        var out = ""
        var copied = 0
        var lastMatchEnd = -1
        for match in regex.matches(in: input, range: NSRange(location: 0, length: source.length)) {
            let range = match.range
            // Go: no replacement for an empty match right after another match.
            if range.length == 0 && range.location == lastMatchEnd && range.location != 0 { continue }
            out += source.substring(with: NSRange(location: copied, length: range.location - copied))
            out += expand(template, match: match, source: source, names: names)
            copied = range.location + range.length
            lastMatchEnd = copied
        }
        return out + source.substring(from: copied)
    }

    /// Go's `Regexp.expand`.
    static func expand(_ template: String, match: NSTextCheckingResult, source: NSString, names: [String]) -> String {
        func group(_ number: Int) -> String {
            guard number < match.numberOfRanges else { return "" }
            let range = match.range(at: number)
            return range.location == NSNotFound ? "" : source.substring(with: range)
        }
        var out = ""
        var rest = Substring(template)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" { out += "$"; rest = rest.dropFirst(); continue }
            var body = rest
            let braced = body.first == "{"
            if braced { body = body.dropFirst() }
            let name = body.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            var after = body[name.endIndex...]
            if name.isEmpty || (braced && after.first != "}") { out += "$"; continue }  // malformed: the $ is text
            if braced { after = after.dropFirst() }
            rest = after
            let digits = name.allSatisfy { $0.isASCII && $0.isNumber }
            if digits && !(name.first == "0" && name.count > 1), name.count < 9, let number = Int(name) {
                out += group(number)
            } else if let number = names.firstIndex(of: String(name)), number > 0 {
                out += group(number)
            }
        }
        return out + rest
    }
}
