import Foundation
import Synchronization

/// A bearer token kept in a file that may be replaced at any time.
///
/// Kubernetes rotates projected service-account tokens by swapping a symlink; checking the
/// file's identity (device, inode, size, modification time) on each use costs one `stat`
/// and sees a rotation at the next request.
final class BearerTokenFile: Sendable {
    private struct Identity: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, modifiedSeconds: Int, modifiedNanos: Int
    }

    let path: String
    private let cache = Mutex<(identity: Identity, token: String)?>(nil)

    init(path: String) { self.path = path }

    /// The current token, re-read when the file changed since the last read.
    func token() throws(HTTPError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw credentialsError("cannot stat bearer token file \(path): \(String(cString: strerror(errno)))")
        }
        let identity = Identity(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedSeconds: info.st_mtim.tv_sec, modifiedNanos: info.st_mtim.tv_nsec
        )
        if let cached = cache.withLock({ $0 }), cached.identity == identity {
            return cached.token
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw credentialsError("cannot read bearer token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw credentialsError("bearer token file \(path) is empty") }
        cache.withLock { $0 = (identity, token) }
        return token
    }

    private func credentialsError(_ message: String) -> HTTPError {
        HTTPError(kind: .credentials, endpoint: "", message: message)
    }
}
