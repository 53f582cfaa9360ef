import CCrypto

/// SHA-256 and HMAC-SHA256, as lowercase hex. Computed here (`SHA256`): OpenSSL 3's one-shot
/// `SHA256()` looks the algorithm up through its provider tables at every call (about 50,000
/// instructions for a 100-byte text, and a megabyte of libcrypto's pages kept resident by a
/// daemon that hashes a few ids per cycle). OpenSSL stays the reference the tests compare with.
public enum Digest {
    public static func sha256Hex(_ text: String) -> String {
        hex(SHA256.hash(Array(text.utf8)))
    }

    /// RFC 2104 HMAC with SHA-256.
    public static func hmacSHA256Hex(key: String, message: [UInt8]) -> String {
        hex(SHA256.hmac(key: Array(key.utf8), message: message))
    }

    /// OpenSSL's SHA-256 of `bytes`: the reference for tests.
    package static func openSSLSHA256Hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { data in mw_sha256(data.baseAddress, data.count, &out) }
        return hex(out)
    }

    /// OpenSSL's HMAC-SHA256: the reference for tests.
    package static func openSSLHMACSHA256Hex(key: [UInt8], message: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        _ = key.withUnsafeBytes { keyBuffer in
            message.withUnsafeBytes { data in mw_hmac_sha256(keyBuffer.baseAddress, keyBuffer.count, data.baseAddress, data.count, &out) }
        }
        return hex(out)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
