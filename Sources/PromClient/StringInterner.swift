import Foundation
import MetricModel

/// Reuses one `String` for byte sequences that repeat within a response: label names
/// always do, and label values (service names, namespaces, codes) mostly do. Saves an
/// allocation and a UTF-8 validation per repeat, and shares storage in the result.
struct StringInterner {
    private struct Entry {
        var hash: UInt32
        var start: Int32
        var length: Int32
        var string: String
    }

    private var slots: [Int32]
    private var entries: [Entry] = []
    private var arena: [UInt8] = []
    private let capacity: Int

    /// A capacity (a power of two) for an answer of `bytes`: a small answer (a rule's few series)
    /// must not pay for filling a 64 KiB table, which was a tenth of a small cycle's instructions.
    static func capacity(forBody bytes: Int) -> Int {
        var capacity = 64
        while capacity < 8192 && capacity * 32 < bytes { capacity *= 2 }
        return capacity
    }

    /// Keeps at most `capacity` distinct strings (a power of two); past that, new strings are made fresh.
    init(capacity: Int = 8192) {
        self.capacity = capacity
        slots = Array(repeating: -1, count: capacity * 2)
        entries.reserveCapacity(256)
        arena.reserveCapacity(8192)
    }

    /// The string for `bytes[start..<end]` (valid, unescaped UTF-8 bytes).
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        let length = end - start
        if length > 128 { return make(bytes, start, end) }
        let hash = UInt32(truncatingIfNeeded: ByteHashing.mix(0, UnsafeBufferPointer(rebasing: bytes[start..<end])) >> 32)
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        while true {
            let entryIndex = slots[slot]
            if entryIndex < 0 { break }
            let entry = entries[Int(entryIndex)]
            if entry.hash == hash, Int(entry.length) == length,
               arena.withUnsafeBufferPointer({ memcmp($0.baseAddress! + Int(entry.start), bytes.baseAddress! + start, length) }) == 0 {
                return entry.string
            }
            slot = (slot + 1) & mask
        }
        let string = make(bytes, start, end)
        if entries.count < capacity {
            slots[slot] = Int32(entries.count)
            entries.append(Entry(hash: hash, start: Int32(arena.count), length: Int32(length), string: string))
            arena.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
        }
        return string
    }

    private func make(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}
