/// Word-at-a-time byte hashing and scanning for the decoder's hot loops.
package enum ByteHashing {
    private static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Mixes `bytes` into `hash` eight bytes at a time, then a length-and-separator word, so
    /// that `("ab", "c")` and `("a", "bc")` differ. Deterministic across runs and platforms
    /// (little-endian loads).
    @inline(__always)
    package static func mix(_ hash: UInt64, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash = hash
        let count = bytes.count
        guard let base = bytes.baseAddress else { return round(hash, 0xff) }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        while offset + 8 <= count {
            hash = round(hash, UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        if offset < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < count {
                tail |= UInt64(base[offset]) << shift
                shift += 8
                offset += 1
            }
            hash = round(hash, tail)
        }
        return round(hash, UInt64(count) << 8 | 0xff)
    }

    @inline(__always)
    private static func round(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        let mixed = (hash ^ word) &* multiplier
        return mixed ^ (mixed >> 29)
    }

    /// Offset of the first `"`, `\` or control character at or after `start`, or `end`.
    @inline(__always)
    package static func firstSpecial(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let raw = UnsafeRawPointer(base)
        var index = start
        while index + 8 <= end {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            // A byte is flagged when it is zero after the XOR, or below 0x20 (ASCII only:
            // the `& ~word` drops bytes with the high bit set, i.e. UTF-8 continuation).
            let found = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word) & highs
            if found != 0 { return index + (found.trailingZeroBitCount >> 3) }
            index += 8
        }
        while index < end {
            let byte = base[index]
            if byte == 0x22 || byte == 0x5C || byte < 0x20 { return index }
            index += 1
        }
        return end
    }
}
