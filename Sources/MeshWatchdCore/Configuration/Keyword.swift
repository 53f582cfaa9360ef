/// A setting that is one word of a fixed set (a sink's type, the remediation mode, the log
/// level and format). Any word decodes, so that a wrong one is listed by
/// `Configuration.problems(file:)` with every other problem instead of stopping the decoding;
/// the code that decides reads `value`.
enum Keyword<Value: RawRepresentable & Sendable & Equatable>: Decodable, Sendable, Equatable where Value.RawValue == String {
    case known(Value)
    case unknown(String)

    init(from decoder: any Decoder) throws {
        let word = try decoder.singleValueContainer().decode(String.self)
        self = Value(rawValue: word).map(Keyword.known) ?? .unknown(word)
    }

    /// Nil for a word that is not one of the set (which a validated configuration has not).
    var value: Value? {
        guard case .known(let value) = self else { return nil }
        return value
    }
}
