import MetricModel

/// The key that an unknown one was probably meant to be, for "did you mean …?".
enum KeySuggestion {
    /// The closest of `known`: the same once snake_cased, a singular or plural of it, a prefix
    /// of it or it of the key (four letters at least), or two edits away at most.
    static func closest(to key: String, among known: Set<String>) -> String? {
        let snake = ConfigurationError.snakeCase(key)
        if known.contains(snake) { return snake }
        let ranked = known.compactMap { candidate -> (distance: Int, key: String)? in
            if singular(candidate) == singular(snake) { return (0, candidate) }
            if min(candidate.count, snake.count) >= 4 && (candidate.hasPrefix(snake) || snake.hasPrefix(candidate)) { return (1, candidate) }
            let distance = EditDistance.between(snake, candidate)
            return distance <= 2 ? (distance, candidate) : nil
        }
        return ranked.min { ($0.distance, $0.key) < ($1.distance, $1.key) }?.key
    }

    /// `severities` → `severity`, `namespaces` → `namespace`.
    private static func singular(_ word: String) -> String {
        if word.hasSuffix("ies") { return word.dropLast(3) + "y" }
        if word.hasSuffix("s") { return String(word.dropLast()) }
        return word
    }
}
