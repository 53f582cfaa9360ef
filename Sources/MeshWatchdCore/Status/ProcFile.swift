import Foundation

/// Files of /proc, read to their end. Their size says 0 and the kernel hands them out a page
/// at a time; `String(contentsOfFile:)` returns only the first part of a long one (measured:
/// /proc/self/smaps cut after the executable's mappings), so `/proc/stat` on a machine with
/// many CPUs, or smaps, would be read short.
enum ProcFile {
    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }
}
