import Foundation

/// Records by alert key, indexed by group so a group's review touches only its own.
struct RecordIndex {
    private(set) var byKey: [String: NotificationRecord] = [:]
    private var byGroup: [String: Set<String>] = [:]

    init(_ records: [String: NotificationRecord]) {
        for (key, record) in records { self[key] = record }
    }

    var groups: [String] { Array(byGroup.keys) }

    func keys(inGroup group: String) -> Set<String> { byGroup[group] ?? [] }

    subscript(key: String) -> NotificationRecord? {
        get { byKey[key] }
        set {
            if let old = byKey[key] {
                byGroup[old.group]?.remove(key)
                if byGroup[old.group]?.isEmpty == true { byGroup[old.group] = nil }
            }
            byKey[key] = newValue
            if let newValue { byGroup[newValue.group, default: []].insert(key) }
        }
    }

    mutating func removeValue(forKey key: String) -> NotificationRecord? {
        defer { self[key] = nil }
        return byKey[key]
    }

    var isEmpty: Bool { byKey.isEmpty }
}
