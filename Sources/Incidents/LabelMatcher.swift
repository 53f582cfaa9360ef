import PromQL

/// One of Alertmanager's matchers, for choosing sinks by an alert's labels: `name="value"`,
/// `name!="value"`, `name=~"regex"`, `name!~"regex"`. The value may be quoted (Go escapes) or
/// bare; a regular expression is Go's and anchored at both ends, as Alertmanager anchors it; a
/// missing label is the empty string.
public struct LabelMatcher: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case equal = "=", notEqual = "!=", regex = "=~", notRegex = "!~"
    }

    public let name: String
    public let kind: Kind
    public let value: String
    let regex: GoRegex?

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let first = trimmed.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first) else {
            throw ParseError(description: "expected name=\"value\" (or !=, =~, !~), got \(GoQuote.quote(text))")
        }
        let nameEnd = trimmed.unicodeScalars.firstIndex { !($0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)) }
            ?? trimmed.unicodeScalars.endIndex
        name = String(trimmed.unicodeScalars[..<nameEnd])
        var rest = Substring(trimmed.unicodeScalars[nameEnd...]).drop { $0 == " " }
        guard let kind = [Kind.regex, .notRegex, .notEqual, .equal].first(where: { rest.hasPrefix($0.rawValue) }) else {
            throw ParseError(description: "\(GoQuote.quote(text)): expected =, !=, =~ or !~ after \(name)")
        }
        self.kind = kind
        rest = rest.dropFirst(kind.rawValue.count).drop { $0 == " " }
        value = try Self.unquote(String(rest), in: text)
        if kind == .regex || kind == .notRegex {
            do { regex = try GoRegex("^(?:" + value + ")$") } catch {
                throw ParseError(description: "\(GoQuote.quote(text)): not a regular expression: \(error)")
            }
        } else {
            regex = nil
        }
    }

    /// A double-quoted Go string (`"a\"b"`), or the bare rest of the matcher.
    static func unquote(_ text: String, in matcher: String) throws(ParseError) -> String {
        guard text.hasPrefix("\"") else {
            guard !text.contains("\"") else { throw ParseError(description: "\(GoQuote.quote(matcher)): a bare value may not hold a quote") }
            return text.trimmingCharacters(in: .whitespaces)
        }
        var out = ""
        var escaped = false
        var closed = false
        for character in text.dropFirst() {
            if closed { throw ParseError(description: "\(GoQuote.quote(matcher)): text after the closing quote") }
            if escaped {
                switch character {
                case "n": out += "\n"
                case "t": out += "\t"
                case "\\", "\"": out.append(character)
                default: throw ParseError(description: "\(GoQuote.quote(matcher)): unknown escape \\\(character)")
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                closed = true
            } else {
                out.append(character)
            }
        }
        guard closed else { throw ParseError(description: "\(GoQuote.quote(matcher)): unterminated quoted value") }
        return out
    }

    public func matches(_ labels: [String: String]) -> Bool {
        let actual = labels[name] ?? ""
        switch kind {
        case .equal: return actual == value
        case .notEqual: return actual != value
        case .regex: return regex?.matches(actual) ?? false
        case .notRegex: return !(regex?.matches(actual) ?? false)
        }
    }

    public var description: String { name + kind.rawValue + GoQuote.quote(value) }

    public static func == (a: LabelMatcher, b: LabelMatcher) -> Bool { a.name == b.name && a.kind == b.kind && a.value == b.value }
}
