import CSnappy

/// snappy's block format (not the framed stream format), as remote write requires.
public enum Snappy {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var length = snappy_max_compressed_length(input.count)
        var output = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                source.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(source.count, 1)) { from in
                    target.baseAddress!.withMemoryRebound(to: CChar.self, capacity: target.count) { to in
                        snappy_compress(from, source.count, to, &length)
                    }
                }
            }
        }
        // snappy_compress fails only for a too-small output buffer, which max_compressed_length rules out.
        precondition(status == SNAPPY_OK, "snappy_compress failed with a buffer of its own maximum size")
        output.removeSubrange(length...)
        return output
    }

    /// Decompresses a block, refusing one that would be larger than `limit` bytes.
    public static func uncompress(_ input: [UInt8], limit: Int = 64 << 20) throws(Failure) -> [UInt8] {
        var length = 0
        let lengthStatus = input.withUnsafeBufferPointer { source in
            source.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: max(source.count, 1)) {
                    snappy_uncompressed_length($0, source.count, &length)
                }
            } ?? SNAPPY_INVALID_INPUT
        }
        guard lengthStatus == SNAPPY_OK else { throw Failure(description: "not a snappy block") }
        guard length <= limit else { throw Failure(description: "snappy block of \(length) bytes is over the limit of \(limit)") }
        var output = [UInt8](repeating: 0, count: max(length, 1))
        var written = length
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                source.baseAddress!.withMemoryRebound(to: CChar.self, capacity: source.count) { from in
                    target.baseAddress!.withMemoryRebound(to: CChar.self, capacity: target.count) { to in
                        snappy_uncompress(from, source.count, to, &written)
                    }
                }
            }
        }
        guard status == SNAPPY_OK else { throw Failure(description: "corrupt snappy block") }
        output.removeSubrange(written...)
        return output
    }
}
