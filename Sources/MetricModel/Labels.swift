/// One label of a series.
public struct Label: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A label set, sorted by name as Prometheus keeps it, with its fingerprint computed once.
public struct Labels: Hashable, Sendable, RandomAccessCollection, CustomStringConvertible {
    public private(set) var labels: [Label]
    /// A 64-bit hash of the sorted names and values; equal label sets have equal fingerprints.
    public let fingerprint: UInt64

    /// Sorts the labels by name when they are not sorted already. The last of duplicate
    /// names wins.
    public init(_ labels: [Label]) {
        var sorted = labels
        if !Self.isStrictlySorted(sorted) {
            sorted.sort { $0.name < $1.name }
            var unique: [Label] = []
            unique.reserveCapacity(sorted.count)
            for label in sorted {
                if unique.last?.name == label.name { unique[unique.count - 1] = label } else { unique.append(label) }
            }
            sorted = unique
        }
        self.labels = sorted
        self.fingerprint = Self.fingerprint(of: sorted)
    }

    /// For decoders that have already checked the order and hashed the bytes as
    /// `fingerprint(of:)` does.
    package init(presorted labels: [Label], fingerprint: UInt64) {
        self.labels = labels
        self.fingerprint = fingerprint
    }

    /// For labels already sorted by name with unique names.
    package init(sortedUnique labels: [Label]) {
        self.labels = labels
        self.fingerprint = Self.fingerprint(of: labels)
    }

    /// Orders label sets by their labels, name then value, pair by pair.
    public static func precedes(_ lhs: Labels, _ rhs: Labels) -> Bool {
        for (left, right) in zip(lhs.labels, rhs.labels) {
            if left.name != right.name { return left.name < right.name }
            if left.value != right.value { return left.value < right.value }
        }
        return lhs.count < rhs.count
    }

    public init(_ dictionary: [String: String]) {
        self.init(dictionary.map { Label(name: $0.key, value: $0.value) })
    }

    public static let empty = Labels([])

    public var startIndex: Int { labels.startIndex }
    public var endIndex: Int { labels.endIndex }
    public subscript(position: Int) -> Label { labels[position] }

    /// The value of a label, or nil.
    public subscript(name: String) -> String? {
        labels.first { $0.name == name }?.value
    }

    /// `{a="1", b="2"}`, as PromQL writes a label set.
    public var description: String {
        "{" + labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
    }

    public static func == (lhs: Labels, rhs: Labels) -> Bool {
        lhs.fingerprint == rhs.fingerprint && lhs.labels == rhs.labels
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    static func isStrictlySorted(_ labels: [Label]) -> Bool {
        var index = 1
        while index < labels.count {
            if labels[index - 1].name >= labels[index].name { return false }
            index += 1
        }
        return true
    }

    package static let fingerprintSeed: UInt64 = 0xcbf2_9ce4_8422_2325

    @inline(__always)
    package static func mixFingerprint(_ hash: UInt64, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        ByteHashing.mix(hash, bytes)
    }

    /// Mixes one label's name and value into a fingerprint, as `fingerprint(of:)` does.
    @inline(__always)
    package static func mixFingerprint(_ hash: UInt64, _ label: Label) -> UInt64 {
        mixFingerprint(mixFingerprint(hash, label.name), label.value)
    }

    @inline(__always)
    package static func mixFingerprint(_ hash: UInt64, _ text: String) -> UInt64 {
        if let mixed = text.utf8.withContiguousStorageIfAvailable({ mixFingerprint(hash, $0) }) { return mixed }
        var copy = text
        return copy.withUTF8 { mixFingerprint(hash, $0) }
    }

    package static func fingerprint(of labels: [Label]) -> UInt64 {
        var hash = fingerprintSeed
        for label in labels { hash = mixFingerprint(hash, label) }
        return hash
    }

}
