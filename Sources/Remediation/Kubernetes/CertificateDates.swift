import Foundation
import X509

/// A PEM certificate's NotAfter, without keeping anything else of it.
public enum CertificateDates {
    /// The NotAfter of the first certificate in `pem`, or nil when it is not a PEM certificate.
    public static func notAfter(pem: Data) -> Date? {
        guard let first = blocks(String(decoding: pem, as: UTF8.self)).first else { return nil }
        return try? Certificate(pemEncoded: first).notValidAfter
    }

    /// The PEM certificates of a bundle, each with its BEGIN and END lines.
    public static func blocks(_ bundle: String) -> [String] {
        var blocks: [String] = []
        var rest = Substring(bundle)
        while let begin = rest.range(of: "-----BEGIN CERTIFICATE-----"), let end = rest[begin.upperBound...].range(of: "-----END CERTIFICATE-----") {
            blocks.append(String(rest[begin.lowerBound..<end.upperBound]))
            rest = rest[end.upperBound...]
        }
        return blocks
    }
}
