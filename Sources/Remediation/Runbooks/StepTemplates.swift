import Foundation
import PromQL

/// Label values templated into runbook steps, safe by construction: in PromQL a value is
/// filled into a string of the parsed query (regex-quoted first where the string is a regex)
/// and the tree printed, so it can only ever be a string; in `http_check` URLs only path and query take values, percent-escaped, the
/// scheme and host are the configuration's; in `exec` a value fills a whole argument.
///
/// Placeholders are `{{ $labels.name }}` or `{{ .Labels.name }}`; anything else in these
/// strings is refused at load (`problem`) and when run.
public enum StepTemplate {
    public struct Refused: Error, CustomStringConvertible, Sendable { public let description: String }

    struct Piece { var literal: String; var label: String? }

    /// Splits `text` into literals and label placeholders.
    static func pieces(_ text: String) throws(Refused) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) else {
                throw Refused(description: "an unclosed {{ in \(KubernetesName.quoted(text))")
            }
            let action = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let label = ["$labels.", ".Labels."].lazy.compactMap({ action.hasPrefix($0) ? String(action.dropFirst($0.count)) : nil }).first,
                  !label.isEmpty, label.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw Refused(description: "only {{ $labels.name }} placeholders may be used here, not {{ \(action) }}")
            }
            pieces.append(Piece(literal: String(rest[..<open.lowerBound]), label: label))
            rest = rest[close.upperBound...]
        }
        pieces.append(Piece(literal: String(rest), label: nil))
        return pieces
    }

    // MARK: PromQL

    /// The query with each placeholder replaced by the label's value. The query is parsed with
    /// meshwatchd's PromQL parser with a marker in each placeholder's place; a placeholder must
    /// stand inside a string (a matcher's value, a function's string argument), where the
    /// value is filled into the parsed tree (regex-quoted where the string is a regex), and the
    /// query sent is the tree printed as Prometheus prints it: a value is only ever a string.
    public static func promql(_ query: String, labels: [String: String]) throws(Refused) -> String {
        let parts = try pieces(query)
        var marked = ""
        var names: [String] = []
        for piece in parts {
            guard !piece.literal.unicodeScalars.contains(where: { $0 == markerOpen || $0 == markerClose }) else {
                throw Refused(description: "the query holds the private-use characters U+E000 or U+E001")
            }
            marked += piece.literal
            if let label = piece.label {
                marked += String(markerOpen) + String(names.count) + String(markerClose)
                names.append(label)
            }
        }
        let parsed: Expr
        do throws(PromQLError) { parsed = try PromQL.Parser.parse(marked) } catch {
            let hint = names.isEmpty ? "" : " ({{ $labels.name }} must stand inside a \"…\" string, such as a label matcher's value)"
            throw Refused(description: "the query does not parse: \(error)\(hint)")
        }
        var filled = Set<Int>()
        let result = parsed.mappingStrings { text, position in
            guard text.unicodeScalars.contains(markerOpen) else { return text }
            var out = ""
            var rest = Substring(text)
            while let open = rest.unicodeScalars.firstIndex(of: markerOpen),
                  let close = rest.unicodeScalars[open...].firstIndex(of: markerClose),
                  let index = Int(String(rest.unicodeScalars[rest.unicodeScalars.index(after: open)..<close])), index < names.count {
                out += rest[..<open]
                let value = labels[names[index]] ?? ""
                out += position.isRegex ? quoteMeta(value) : value
                filled.insert(index)
                rest = rest[rest.unicodeScalars.index(after: close)...]
            }
            return out + rest
        }
        // A placeholder in a comment never reaches the tree: refused, as it would be silently dropped.
        if let missing = names.indices.first(where: { !filled.contains($0) }) {
            throw Refused(description: "{{ $labels.\(names[missing]) }} stands in a comment")
        }
        return result.description
    }

    /// Private-use characters marking a placeholder while the query is parsed.
    static let markerOpen: Unicode.Scalar = "\u{E000}"
    static let markerClose: Unicode.Scalar = "\u{E001}"

    /// RE2's `QuoteMeta`: every regex metacharacter backslash-escaped.
    public static func quoteMeta(_ value: String) -> String {
        // Scalar by scalar (Go's QuoteMeta works on bytes): a metacharacter inside a grapheme
        // cluster (U+0600 followed by "|") is escaped too.
        var out = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            if "\\.+*?()|[]{}^$".unicodeScalars.contains(scalar) { out.append("\\") }
            out.append(scalar)
        }
        return String(out)
    }

    // MARK: http_check

    /// The URL with placeholders (only after the host) replaced by percent-escaped values.
    public static func url(_ template: String, labels: [String: String]) throws(Refused) -> String {
        let lower = template.lowercased()
        guard let schemeEnd = lower.hasPrefix("https://") ? 8 : (lower.hasPrefix("http://") ? 7 : nil) else {
            throw Refused(description: "an http_check URL must start with http:// or https://")
        }
        let afterScheme = template.dropFirst(schemeEnd)
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
        guard !authority.isEmpty, !authority.contains("{"), !authority.contains("@") else {
            throw Refused(description: "an http_check URL's host is fixed by the configuration: no placeholders or credentials in it")
        }
        // Dots escaped too: libcurl would resolve a `..` value as a dot segment.
        return try pieces(template).map { piece throws(Refused) in
            piece.literal + (piece.label.map { KubernetesQuery.escape(labels[$0] ?? "").replacingOccurrences(of: ".", with: "%2E") } ?? "")
        }.joined()
    }

    // MARK: exec

    /// argv for an `exec` step: the program never templated; an argument is a literal or one
    /// whole placeholder, and a value that could read as an option (`-…`) or holds a NUL is refused.
    public static func argv(_ command: [String], labels: [String: String]) throws(Refused) -> [String] {
        guard let program = command.first else { throw Refused(description: "no command") }
        guard !program.contains("{{"), program.hasPrefix("/") else {
            throw Refused(description: "an exec step's program is a fixed absolute path, never templated")
        }
        var argv = [program]
        for argument in command.dropFirst() {
            let parts = try pieces(argument)
            if parts.count == 1 { argv.append(argument); continue }
            guard parts.count == 2, parts[0].literal.trimmingCharacters(in: .whitespaces).isEmpty,
                  parts[1].literal.trimmingCharacters(in: .whitespaces).isEmpty, let label = parts[0].label else {
                throw Refused(description: "an exec argument is a literal or one whole {{ $labels.name }}, not \(KubernetesName.quoted(argument))")
            }
            let value = labels[label] ?? ""
            if value.hasPrefix("-") { throw Refused(description: "label \(label) = \(KubernetesName.quoted(value)) starts with '-' and could read as an option") }
            if value.contains("\u{0}") { throw Refused(description: "label \(label) holds a NUL byte") }
            argv.append(value)
        }
        return argv
    }

    /// Programs that would run their arguments as code: never on the allow-list.
    public static let interpreters: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "ash", "busybox", "env",
                                                   "python", "python3", "perl", "ruby", "node", "php", "lua", "awk", "xargs", "eval"]

    /// Why a step's templates are refused at load, or nil.
    public static func problem(_ step: RunbookStep) -> String? {
        do {
            switch step.kind {
            case .promql: _ = try promql(step.query ?? "", labels: [:])
            case .httpCheck: _ = try url(step.url ?? "", labels: [:])
            case .exec: _ = try argv(step.command ?? [], labels: [:])
            default: break
            }
            return nil
        } catch {
            return error.description
        }
    }
}
