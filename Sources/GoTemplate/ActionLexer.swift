import Foundation

enum ActionToken: Equatable, Sendable {
    case identifier(String)
    case field([String])  // .Labels.x → ["Labels", "x"]; "." alone → []
    case variable(String) // "$labels" (with any fields following as .field tokens joined below)
    case variableField(String, [String])
    case string(String)
    case number(Double)
    /// An integer constant (`3`, `0x1F`): Go's templates keep it an int, not a float64.
    case integer(Int64)
    case pipe
    case open
    case close
    case declare
    case assign
    case comma
}

/// Splits the inside of one `{{ … }}` into tokens.
struct ActionLexer {
    let characters: [Character]
    let template: String
    var index = 0

    init(_ text: String, template: String) {
        characters = Array(text)
        self.template = template
    }

    /// The character index (in the action's text) where each token of the last `tokens()` starts.
    private(set) var positions: [Int] = []

    mutating func tokens() throws(TemplateError) -> [ActionToken] {
        var tokens: [ActionToken] = []
        positions = []
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace { index += 1; continue }
            if positions.count < tokens.count + 1 { positions.append(index) }
            defer { while positions.count > tokens.count { positions.removeLast() } }
            switch character {
            case "|": tokens.append(.pipe); index += 1
            case "(": tokens.append(.open); index += 1
            case ")": tokens.append(.close); index += 1
            case ":" where peek(1) == "=": tokens.append(.declare); index += 2
            case "=": tokens.append(.assign); index += 1
            case ",": tokens.append(.comma); index += 1
            case "\"": tokens.append(.string(try quoted()))
            case "'":
                // A character constant: Go's rune, an integer ('a' is 97).
                let start = index
                guard let scalar = try characterConstant() else {
                    throw TemplateError("template: \(template): malformed character constant: \(String(characters[start..<min(index, characters.count)]))")
                }
                tokens.append(.integer(Int64(scalar.value)))
            case "`":
                index += 1
                let start = index
                while index < characters.count, characters[index] != "`" { index += 1 }
                guard index < characters.count else { throw TemplateError("template: \(template): unterminated raw string") }
                tokens.append(.string(String(characters[start..<index])))
                index += 1
            case "." where index + 1 < characters.count && ("0"..."9").contains(characters[index + 1]):
                // Go: a dot before a digit starts a number (.5), not a field.
                let text = numberText()
                guard let value = Self.float(text) else { throw TemplateError("template: \(template): bad number syntax: \"\(text)\"") }
                tokens.append(.number(value))
            case ".":
                tokens.append(.field(path()))
            case "$":
                let name = name()
                let fields = index < characters.count && characters[index] == "." ? path() : []
                tokens.append(fields.isEmpty ? .variable(name) : .variableField(name, fields))
            case "-", "+", "0"..."9":
                let text = numberText()
                // Go's lexer: a number runs into no letter or digit ("0x1G" is one bad number, not two tokens).
                if index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" {
                    throw TemplateError("template: \(template): bad number syntax: \"\(text)\(characters[index])\"")
                }
                if let integer = Self.integer(text) {
                    tokens.append(.integer(integer))
                    continue
                }
                guard let value = Self.float(text) else { throw TemplateError("template: \(template): bad number syntax: \"\(text)\"") }
                tokens.append(.number(value))
            default:
                guard character.isLetter || character == "_" else {
                    throw TemplateError("template: \(template): unexpected \"\(character)\" in action")
                }
                tokens.append(.identifier(name()))
            }
        }
        return tokens
    }

    private func peek(_ offset: Int) -> Character? {
        index + offset < characters.count ? characters[index + offset] : nil
    }

    /// Consumes the current character and any that `continues` accepts.
    private mutating func word(_ continues: (Character) -> Bool) -> String {
        let start = index
        index += 1
        while index < characters.count, continues(characters[index]) { index += 1 }
        return String(characters[start..<index])
    }

    private mutating func name() -> String { word { $0.isLetter || $0.isNumber || $0 == "_" } }

    /// `12`, `-3`, `+4`, `0x1f`: an integer constant as Go's template lexer reads it, else nil.
    /// Go's `strconv.ParseInt(text, 0, 64)`: a sign, then 0x/0o/0b (or a leading 0: octal), digits
    /// with underscores between them.
    static func integer(_ text: String) -> Int64? {
        var body = Substring(text)
        var negative = false
        if let sign = body.first, sign == "-" || sign == "+" { negative = sign == "-"; body = body.dropFirst() }
        var radix = 10
        let lower = body.lowercased()
        if lower.hasPrefix("0x") { radix = 16; body = body.dropFirst(2) }
        else if lower.hasPrefix("0o") { radix = 8; body = body.dropFirst(2) }
        else if lower.hasPrefix("0b") { radix = 2; body = body.dropFirst(2) }
        else if body.count > 1 && body.hasPrefix("0") { radix = 8; body = body.dropFirst() }
        // Underscores only between digits (or after the base prefix), as Go allows them.
        if body.hasSuffix("_") || body.contains("__") || (radix == 10 && body.hasPrefix("_")) { return nil }
        let digits = body.filter { $0 != "_" }
        guard !digits.isEmpty, let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// Go's `strconv.ParseFloat(text, 64)` for a number token: decimal or hexadecimal (`0x1p-2`), underscores between digits.
    static func float(_ text: String) -> Double? {
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        guard cleaned.count == text.count || !text.contains("__") else { return nil }
        return Double(cleaned)
    }

    /// A number as Go's template lexer takes it: sign, base prefix, digits, fraction, exponent.
    private mutating func numberText() -> String {
        let start = index
        func accept(_ set: String) -> Bool {
            guard index < characters.count, set.contains(characters[index]) else { return false }
            index += 1
            return true
        }
        func run(_ set: String) { while accept(set) {} }
        _ = accept("+-")
        var digits = "0123456789_"
        var exponent = "eE"
        if index + 1 < characters.count, characters[index] == "0" {
            switch characters[index + 1] {
            case "x", "X": index += 2; digits = "0123456789abcdefABCDEF_"; exponent = "pP"
            case "o", "O": index += 2; digits = "01234567_"; exponent = ""
            case "b", "B": index += 2; digits = "01_"; exponent = ""
            default: break
            }
        }
        run(digits)
        if accept(".") { run(digits) }
        if !exponent.isEmpty && accept(exponent) {
            _ = accept("+-")
            run("0123456789_")
        }
        return String(characters[start..<index])
    }

    /// `.a.b.c` → ["a", "b", "c"]; a lone `.` → [].
    private mutating func path() -> [String] {
        var parts: [String] = []
        while index < characters.count, characters[index] == "." {
            index += 1
            let start = index
            while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" {
                index += 1
            }
            if index > start { parts.append(String(characters[start..<index])) }
        }
        return parts
    }

    /// A character constant (`'a'`, `'\n'`, `'\x41'`, `'\u00e9'`): one scalar between single quotes.
    private mutating func characterConstant() throws(TemplateError) -> Unicode.Scalar? {
        index += 1
        guard index < characters.count else { return nil }
        var scalar: Unicode.Scalar?
        if characters[index] == "\\", index + 1 < characters.count {
            index += 1
            let escape = characters[index]
            func digits(_ count: Int, radix: Int) -> UInt32? {
                guard index + count < characters.count else { return nil }
                let text = String(characters[(index + 1)...(index + count)])
                index += count
                return text.unicodeScalars.allSatisfy(\.isASCII) ? UInt32(text, radix: radix) : nil
            }
            switch escape {
            case "a": scalar = "\u{07}"
            case "b": scalar = "\u{08}"
            case "f": scalar = "\u{0C}"
            case "n": scalar = "\n"
            case "r": scalar = "\r"
            case "t": scalar = "\t"
            case "v": scalar = "\u{0B}"
            case "\\": scalar = "\\"
            case "'": scalar = "'"
            case "x": scalar = digits(2, radix: 16).flatMap(Unicode.Scalar.init)
            case "u": scalar = digits(4, radix: 16).flatMap(Unicode.Scalar.init)
            case "U": scalar = digits(8, radix: 16).flatMap(Unicode.Scalar.init)
            case "0"..."7":
                index -= 1
                scalar = digits(3, radix: 8).flatMap { $0 <= 255 ? Unicode.Scalar($0) : nil }
            default: scalar = nil
            }
        } else if characters[index] != "'" && characters[index] != "\n" {
            let units = characters[index].unicodeScalars
            scalar = units.count == 1 ? units.first : nil
        }
        index += 1
        guard index < characters.count, characters[index] == "'" else { return nil }
        index += 1
        return scalar
    }

    /// A double-quoted string, unquoted as Go's `strconv.Unquote` does: `\a \b \f \n \r \t \v \\ \"`,
    /// `\xHH` and `\ooo` (bytes), `\uHHHH` and `\UHHHHHHHH`; any other escape is Go's "invalid syntax".
    /// Bytes that are not UTF-8 (`"\xff"`) become U+FFFD, as they print in a JSON document.
    private mutating func quoted() throws(TemplateError) -> String {
        index += 1
        var bytes: [UInt8] = []
        func digits(_ count: Int, radix: Int) throws(TemplateError) -> UInt32 {
            guard index + count < characters.count else { throw TemplateError("template: \(template): invalid syntax") }
            let text = String(characters[(index + 1)...(index + count)])
            guard text.unicodeScalars.allSatisfy(\.isASCII), let value = UInt32(text, radix: radix) else {
                throw TemplateError("template: \(template): invalid syntax")
            }
            index += count
            return value
        }
        while index < characters.count {
            let character = characters[index]
            if character == "\"" { index += 1; return String(decoding: bytes, as: UTF8.self) }
            if character == "\n" { break }
            if character == "\\", index + 1 < characters.count {
                index += 1
                switch characters[index] {
                case "a": bytes.append(0x07)
                case "b": bytes.append(0x08)
                case "f": bytes.append(0x0C)
                case "n": bytes.append(0x0A)
                case "r": bytes.append(0x0D)
                case "t": bytes.append(0x09)
                case "v": bytes.append(0x0B)
                case "\\": bytes.append(0x5C)
                case "\"": bytes.append(0x22)
                case "x": bytes.append(UInt8(try digits(2, radix: 16)))
                case "0"..."7":
                    index -= 1
                    let value = try digits(3, radix: 8)
                    guard value <= 255 else { throw TemplateError("template: \(template): invalid syntax") }
                    bytes.append(UInt8(value))
                case "u", "U":
                    let value = try digits(characters[index] == "u" ? 4 : 8, radix: 16)
                    guard let scalar = Unicode.Scalar(value) else { throw TemplateError("template: \(template): invalid syntax") }
                    bytes += Array(String(scalar).utf8)
                default:
                    throw TemplateError("template: \(template): invalid syntax")
                }
            } else {
                bytes += Array(String(character).utf8)
            }
            index += 1
        }
        throw TemplateError("template: \(template): unterminated quoted string")
    }
}

/// Turns action tokens into a pipeline: commands separated by `|`, each a list of operands.
struct PipelineParser {
    let tokens: [ActionToken]
    let template: String
    /// Where each token starts in the template's source, in UTF-8 bytes (for Go's error positions).
    let offsets: [Int]
    var index = 0

    init(tokens: [ActionToken], template: String, offsets: [Int] = []) {
        self.tokens = tokens
        self.template = template
        self.offsets = offsets
    }

    mutating func parseAll() throws(TemplateError) -> Template.Pipeline {
        let pipeline = try parsePipeline()
        guard index == tokens.count else { throw TemplateError("template: \(template): unexpected token in action") }
        return pipeline
    }

    private var depth = 0

    private mutating func parsePipeline() throws(TemplateError) -> Template.Pipeline {
        depth += 1
        defer { depth -= 1 }
        guard depth <= TemplateParser.maximumNesting else {
            throw TemplateError("template: \(template): parentheses nested deeper than \(TemplateParser.maximumNesting) levels are refused")
        }
        var commands: [Template.Command] = []
        var arguments: [Template.Operand] = []
        while index < tokens.count {
            let token = tokens[index]
            let tokenOffset = index < offsets.count ? offsets[index] : 0
            index += 1
            switch token {
            case .pipe:
                guard !arguments.isEmpty else { throw TemplateError("template: \(template): missing command before |") }
                commands.append(.init(arguments: arguments))
                arguments = []
            case .close:
                index -= 1
                guard !arguments.isEmpty else { throw TemplateError("template: \(template): empty pipeline") }
                commands.append(.init(arguments: arguments))
                return .init(commands: commands)
            case .open:
                let inner = try parsePipeline()
                guard index < tokens.count, tokens[index] == .close else { throw TemplateError("template: \(template): unclosed (") }
                index += 1
                // `(…).Field`: a field right after the parenthesis is taken from the pipeline's value.
                if index < tokens.count, case .field(let path) = tokens[index], !path.isEmpty, index < offsets.count,
                   offsets[index] == offsets[index - 1] + 1 {
                    arguments.append(.field(base: .value(inner), path: path, offset: offsets[index]))
                    index += 1
                } else {
                    arguments.append(.pipeline(inner))
                }
            case .identifier("true"): arguments.append(.bool(true))
            case .identifier("false"): arguments.append(.bool(false))
            case .identifier("nil"): arguments.append(.nilLiteral)
            case .identifier(let name):
                // As Go's parser: an unknown function fails the template when it is parsed.
                guard let function = TemplateFunction(rawValue: name) else {
                    throw TemplateError("template: \(template): function \"\(name)\" not defined")
                }
                arguments.append(.function(function, offset: tokenOffset))
            // Go positions a chain (`.a.b`, `$x.a`) at its second link: where the fields after the term start.
            case .field(let path):
                let shift = path.count > 1 ? 1 + path[0].utf8.count : 0
                arguments.append(.field(base: .dot, path: path, offset: tokenOffset + shift))
            case .variable(let name): arguments.append(.field(base: .variable(name), path: [], offset: tokenOffset))
            case .variableField(let name, let path):
                arguments.append(.field(base: .variable(name), path: path, offset: tokenOffset + name.utf8.count))
            case .string(let text): arguments.append(.string(text))
            case .number(let value): arguments.append(.number(value))
            case .integer(let value): arguments.append(.integer(value))
            case .declare, .assign: throw TemplateError("template: \(template): unexpected assignment")
            case .comma: throw TemplateError("template: \(template): unexpected \",\" in command")
            }
        }
        guard !arguments.isEmpty else { throw TemplateError("template: \(template): missing value for command") }
        commands.append(.init(arguments: arguments))
        return .init(commands: commands)
    }
}
