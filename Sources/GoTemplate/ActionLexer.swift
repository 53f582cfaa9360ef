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
            case "`":
                index += 1
                let start = index
                while index < characters.count, characters[index] != "`" { index += 1 }
                guard index < characters.count else { throw TemplateError("template: \(template): unterminated raw string") }
                tokens.append(.string(String(characters[start..<index])))
                index += 1
            case ".":
                tokens.append(.field(path()))
            case "$":
                let name = name()
                let fields = index < characters.count && characters[index] == "." ? path() : []
                tokens.append(fields.isEmpty ? .variable(name) : .variableField(name, fields))
            case "-", "+", "0"..."9":
                let text = numberText()
                if let integer = Self.integer(text) {
                    tokens.append(.integer(integer))
                    continue
                }
                guard let value = Double(text) else { throw TemplateError("template: \(template): bad number \(text)") }
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
    static func integer(_ text: String) -> Int64? {
        var body = Substring(text)
        var negative = false
        if let sign = body.first, sign == "-" || sign == "+" { negative = sign == "-"; body = body.dropFirst() }
        let magnitude: Int64?
        if body.hasPrefix("0x") || body.hasPrefix("0X") {
            magnitude = Int64(body.dropFirst(2), radix: 16)
        } else {
            guard !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            magnitude = Int64(body)
        }
        return magnitude.map { negative ? -$0 : $0 }
    }

    private mutating func numberText() -> String {
        word { $0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-" || $0 == "x" }
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

    private mutating func quoted() throws(TemplateError) -> String {
        index += 1
        var out = ""
        while index < characters.count {
            let character = characters[index]
            if character == "\"" { index += 1; return out }
            if character == "\\", index + 1 < characters.count {
                index += 1
                switch characters[index] {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\": out.append("\\")
                case "\"": out.append("\"")
                default: out.append("\\"); out.append(characters[index])
                }
            } else {
                out.append(character)
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
