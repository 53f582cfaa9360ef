import CCrypto

/// SHA-256 and HMAC-SHA256 (OpenSSL), as lowercase hex.
public enum Digest {
    public static func sha256Hex(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { data in mw_sha256(data.baseAddress, data.count, &out) }
        return hex(out)
    }

    public static func hmacSHA256Hex(key: String, message: [UInt8]) -> String {
        let keyBytes = Array(key.utf8)
        var out = [UInt8](repeating: 0, count: 32)
        _ = keyBytes.withUnsafeBytes { keyBuffer in
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
