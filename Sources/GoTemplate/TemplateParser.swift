/// Parses template source into nodes. Actions are tokenised one at a time.
struct TemplateParser {
    let source: [Character]
    let name: String
    var index = 0
    /// How many `range` bodies enclose the current position (`break`/`continue` need one).
    var loops = 0
    /// Where the tokens of the last `{{else …}}`/`{{end}}` returned by `parseNodes` start (bytes).
    var terminatorOffsets: [Int] = []
    /// `{{define "name"}}…{{end}}` and `{{block "name" …}}…{{end}}` bodies.
    var defined: [String: [Template.Node]] = [:]
    /// The variables in scope, innermost block last: Go refuses a template that uses one that is
    /// not (`undefined variable "$lables"`), when it is parsed. Prometheus declares four in
    /// front of every alert template; `$` always exists.
    var scopes: [Set<String>] = [["$", "$labels", "$externalLabels", "$externalURL", "$value"]]

    /// Refuses a variable that is not in scope, as Go's parser does.
    private func checkVariables(_ tokens: some Sequence<ActionToken>) throws(TemplateError) {
        for token in tokens {
            let variable: String
            switch token {
            case .variable(let name), .variableField(let name, _): variable = name
            default: continue
            }
            if !scopes.contains(where: { $0.contains(variable) }) { throw error("undefined variable \"\(variable)\"") }
        }
    }

    /// The UTF-8 offset of each character of `source` (and of its end): Go's positions are bytes.
    let byteOffsets: [Int]

    init(source: String, name: String) {
        self.source = Array(source)
        self.name = name
        var offsets = [0]
        offsets.reserveCapacity(self.source.count + 1)
        for character in self.source { offsets.append(offsets.last! + character.utf8.count) }
        byteOffsets = offsets
    }

    private enum Block { case document, conditional }

    mutating func parseDocument() throws(TemplateError) -> [Template.Node] {
        let (nodes, terminator) = try parseNodes(in: .document)
        if let terminator { throw error("unexpected {{\(terminator)}}") }
        return nodes
    }

    /// Parses until the end of input or an `else`/`end` action, which it returns.
    /// The deepest nesting of `if`/`with`/`range`/`define` accepted (and of parentheses, in
    /// `PipelineParser`): parsing and running recurse per level, and a rule file must never
    /// overflow the stack of the process that loads it. Go has no such limit; no real template
    /// comes near it.
    static let maximumNesting = 100
    private var nesting = 0

    private mutating func parseNodes(in block: Block) throws(TemplateError) -> ([Template.Node], String?) {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maximumNesting else { throw error("blocks nested deeper than \(Self.maximumNesting) levels are refused") }
        var nodes: [Template.Node] = []
        var text = ""
        while index < source.count {
            if source[index] == "{", index + 1 < source.count, source[index + 1] == "{" {
                var start = index + 2
                var trimLeft = false
                if start + 1 < source.count, source[start] == "-", source[start + 1] == " " || source[start + 1] == "\t" || source[start + 1] == "\n" {
                    trimLeft = true
                    start += 1
                }
                guard let close = findClose(from: start) else { throw error("unclosed action") }
                var end = close
                var trimRight = false
                if end - 1 >= start, source[end - 1] == "-", end - 2 >= start, source[end - 2].isWhitespace {
                    trimRight = true
                    end -= 1
                }
                if trimLeft { while let last = text.last, last.isWhitespace { text.removeLast() } }
                if !text.isEmpty { nodes.append(.text(text)); text = "" }
                let body = String(source[start..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
                index = close + 2
                if trimRight { while index < source.count, source[index].isWhitespace { index += 1 } }
                if body.hasPrefix("/*") { continue }
                var lexer = ActionLexer(body, template: name)
                let tokens = try lexer.tokens()
                let leading = source[start..<end].prefix { $0.isWhitespace }.count
                let offsets = lexer.positions.map { byteOffsets[min(start + leading + $0, byteOffsets.count - 1)] }
                switch tokens.first {
                case .identifier("if"):
                    nodes.append(try parseConditional(Array(tokens.dropFirst()), offsets: Array(offsets.dropFirst())))
                case .identifier("else"), .identifier("end"):
                    guard block == .conditional else { throw error("unexpected {{\(body)}}") }
                    terminatorOffsets = offsets
                    return (nodes, body)
                case .identifier("with"), .identifier("range"):
                    let isRange = tokens.first == .identifier("range")
                    let (variables, rest) = try declarations(Array(tokens.dropFirst()), allowTwo: isRange)
                    // `with $x = p` sets an outer $x: nothing new in scope.
                    let withAssigns = !isRange && tokens.count > 2 && tokens[2] == .assign
                    if withAssigns { try checkVariables([tokens[1]]) }
                    try checkVariables(rest)
                    var tokenParser = PipelineParser(tokens: rest, template: name, offsets: Array(offsets.suffix(rest.count)))
                    let pipeline = try tokenParser.parseAll()
                    // The declared variables reach the {{end}}, through {{else}}.
                    scopes.append(withAssigns ? [] : Set(variables))
                    defer { scopes.removeLast() }
                    if isRange { loops += 1 }
                    let (inner, terminator) = try parseNodes(in: .conditional)
                    if isRange { loops -= 1 }
                    var otherwise: [Template.Node] = []
                    guard let terminator else { throw error("missing {{end}}") }
                    if terminator != "end" {
                        guard terminator == "else" else { throw error("unexpected {{\(terminator)}} in \(isRange ? "range" : "with")") }
                        let (alternative, end) = try parseNodes(in: .conditional)
                        guard end == "end" else { throw error("expected {{end}} after {{else}}") }
                        otherwise = alternative
                    }
                    if isRange {
                        let key = variables.count == 2 ? variables[0] : nil
                        nodes.append(.range(key: key, value: variables.last, pipeline: pipeline, body: inner, otherwise: otherwise))
                    } else {
                        nodes.append(.with(variable: variables.first, declares: !withAssigns, pipeline: pipeline, body: inner, otherwise: otherwise))
                    }
                case .identifier("break"), .identifier("continue"):
                    guard tokens.count == 1 else { throw error("unexpected {{\(body)}}") }
                    guard loops > 0 else { throw error("{{\(body)}} outside {{range}}") }
                    nodes.append(.loopControl(breaks: tokens.first == .identifier("break")))
                case .identifier("template"):
                    guard tokens.count >= 2, case .string(let templateName) = tokens[1] else {
                        throw error("unexpected \"\(body.dropFirst(8).trimmingCharacters(in: .whitespaces))\" in template clause")
                    }
                    var pipeline: Template.Pipeline?
                    if tokens.count > 2 {
                        try checkVariables(tokens.dropFirst(2))
                        var tokenParser = PipelineParser(tokens: Array(tokens.dropFirst(2)), template: name, offsets: Array(offsets.dropFirst(2)))
                        pipeline = try tokenParser.parseAll()
                    }
                    nodes.append(.invoke(name: templateName, pipeline: pipeline))
                case .identifier("define"), .identifier("block"):
                    let isBlock = tokens.first == .identifier("block")
                    guard tokens.count >= 2, case .string(let templateName) = tokens[1] else {
                        throw error("unexpected \"\(body)\" in \(isBlock ? "block" : "define") clause")
                    }
                    guard block == .document || isBlock else { throw error("unexpected <define> in command") }
                    var pipeline: Template.Pipeline?
                    if tokens.count > 2 {
                        guard isBlock else { throw error("unexpected \"\(body)\" in define clause") }
                        try checkVariables(tokens.dropFirst(2))
                        var tokenParser = PipelineParser(tokens: Array(tokens.dropFirst(2)), template: name, offsets: Array(offsets.dropFirst(2)))
                        pipeline = try tokenParser.parseAll()
                    }
                    // A defined template has its own variables: only `$`.
                    let outer = scopes
                    scopes = [["$"]]
                    let (inner, terminator) = try parseNodes(in: .conditional)
                    scopes = outer
                    guard terminator == "end" else { throw error(terminator == nil ? "missing {{end}}" : "unexpected {{\(terminator!)}} in \(isBlock ? "block" : "define")") }
                    guard defined[templateName] == nil else { throw error("template: multiple definition of template \"\(templateName)\"") }
                    defined[templateName] = inner
                    if isBlock { nodes.append(.invoke(name: templateName, pipeline: pipeline)) }
                case .variable(let variable) where tokens.count > 1 && (tokens[1] == .declare || tokens[1] == .assign):
                    try checkVariables(tokens.dropFirst(2))
                    if tokens[1] == .assign { try checkVariables([tokens[0]]) } else { scopes[scopes.count - 1].insert(variable) }
                    var tokenParser = PipelineParser(tokens: Array(tokens.dropFirst(2)), template: name, offsets: Array(offsets.dropFirst(2)))
                    nodes.append(.assign(variable: variable, pipeline: try tokenParser.parseAll(), declares: tokens[1] == .declare))
                default:
                    try checkVariables(tokens)
                    var tokenParser = PipelineParser(tokens: tokens, template: name, offsets: offsets)
                    nodes.append(.action(try tokenParser.parseAll()))
                }
            } else {
                text.append(source[index])
                index += 1
            }
        }
        if !text.isEmpty { nodes.append(.text(text)) }
        guard block == .document else { throw error("unexpected EOF: missing {{end}}") }
        return (nodes, nil)
    }

    private mutating func parseConditional(_ conditionTokens: [ActionToken], offsets: [Int]) throws(TemplateError) -> Template.Node {
        var branches: [(condition: Template.Pipeline, variable: String?, declares: Bool, body: [Template.Node])] = []
        var condition = conditionTokens
        var conditionOffsets = offsets
        // Variables declared in the conditions, in scope to the {{end}}.
        scopes.append([])
        defer { scopes.removeLast() }
        while true {
            let (variable, declares, rest) = try declaration(condition)
            try checkVariables(rest)
            var tokenParser = PipelineParser(tokens: rest, template: name, offsets: Array(conditionOffsets.suffix(rest.count)))
            let pipeline = try tokenParser.parseAll()
            if let variable, declares { scopes[scopes.count - 1].insert(variable) }
            scopes.append([])
            let (body, terminator) = try parseNodes(in: .conditional)
            scopes.removeLast()
            branches.append((pipeline, variable, declares, body))
            guard let terminator else { throw error("missing {{end}}") }
            if terminator == "end" { return .conditional(branches: branches, otherwise: []) }
            var lexer = ActionLexer(terminator, template: name)
            let tokens = try lexer.tokens()
            if tokens.count > 1, tokens[1] == .identifier("if") {
                condition = Array(tokens.dropFirst(2))
                conditionOffsets = Array(terminatorOffsets.dropFirst(2))
                continue
            }
            scopes.append([])
            let (otherwise, end) = try parseNodes(in: .conditional)
            scopes.removeLast()
            guard end == "end" else { throw error("expected {{end}} after {{else}}") }
            return .conditional(branches: branches, otherwise: otherwise)
        }
    }

    /// `$x :=` (or `$x =`) before an if's or with's pipeline: the variable, whether it is declared
    /// (else assigned: it must exist), and the rest.
    private func declaration(_ tokens: [ActionToken]) throws(TemplateError) -> (variable: String?, declares: Bool, rest: [ActionToken]) {
        if tokens.count > 1, case .variable(let only) = tokens[0], tokens[1] == .declare || tokens[1] == .assign {
            if tokens[1] == .assign { try checkVariables([tokens[0]]) }
            return (only, tokens[1] == .declare, Array(tokens.dropFirst(2)))
        }
        if tokens.count > 3, case .variable = tokens[0], tokens[1] == .comma { throw error("too many declarations in command") }
        return (nil, true, tokens)
    }

    /// `$x :=` or `$k, $v :=` before a with's or range's pipeline: the variables and the rest.
    private func declarations(_ tokens: [ActionToken], allowTwo: Bool) throws(TemplateError) -> ([String], [ActionToken]) {
        if tokens.count > 1, case .variable(let only) = tokens[0], tokens[1] == .declare || tokens[1] == .assign {
            return ([only], Array(tokens.dropFirst(2)))
        }
        if tokens.count > 3, case .variable(let key) = tokens[0], tokens[1] == .comma, case .variable(let value) = tokens[2],
           tokens[3] == .declare || tokens[3] == .assign {
            guard allowTwo else { throw error("too many declarations in command") }
            return ([key, value], Array(tokens.dropFirst(4)))
        }
        return ([], tokens)
    }

    /// The index of the `}}` that closes the action starting at `from`, skipping strings.
    private func findClose(from: Int) -> Int? {
        var position = from
        var quote: Character?
        while position + 1 < source.count {
            let character = source[position]
            if let open = quote {
                if character == "\\" && open != "`" { position += 2; continue }
                if character == open { quote = nil }
            } else if character == "\"" || character == "`" || character == "'" {
                quote = character
            } else if character == "}" && source[position + 1] == "}" {
                return position
            }
            position += 1
        }
        return nil
    }

    private func error(_ message: String) -> TemplateError {
        let line = source[..<min(index, source.count)].filter { $0 == "\n" }.count + 1
        return TemplateError("template: \(name):\(line): \(message)")
    }
}
