import Foundation
import Synchronization

/// A datagram socket standing in for systemd's NOTIFY_SOCKET: collects what the daemon sends.
final class NotifySocket: Sendable {
    let path: String
    private let descriptor: Int32
    private let messages = Mutex<[String]>([])
    private let closed = Atomic<Bool>(false)

    init() throws {
        path = NSTemporaryDirectory() + "mw-notify-\(UUID().uuidString.prefix(8)).sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() where index < buffer.count - 1 { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in receive() }
        thread.start()
    }

    deinit {
        closed.store(true, ordering: .releasing)
        usleep(250_000)
        close(descriptor)
        unlink(path)
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !closed.load(ordering: .acquiring) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                messages.withLock { $0.append(text) }
            }
        }
    }

    var received: [String] { messages.withLock { $0 } }

    /// Waits until a message satisfies `condition`, up to `timeout`; returns it.
    func wait(for timeout: Duration, after index: Int = 0, _ condition: (String) -> Bool) async -> (index: Int, message: String)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let all = received
            if let found = all.indices.dropFirst(index).first(where: { condition(all[$0]) }) { return (found, all[found]) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
