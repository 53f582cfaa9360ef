import Foundation
import PromQL

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
            case _ where scalar.value >= 0x80 && !GoQuote.isPrint(scalar): out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
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
