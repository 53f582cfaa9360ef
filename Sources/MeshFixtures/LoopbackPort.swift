import Foundation

/// Loopback sockets for tests: free ports and a server that accepts nothing.
public enum LoopbackPort {
    /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
    public static func free() throws -> Int {
        let socket = try ListeningSocket()
        return socket.port
    }
}

/// A TCP port on 127.0.0.1 held closed: bound, not listening, so a connection is refused by
/// the kernel and no other server started meanwhile (by a test running in parallel) can take
/// it. `LoopbackPort.free()` alone would leave the port to whoever binds next.
public final class ClosedPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        (descriptor, port) = try bindLoopback(listenBacklog: nil)
    }

    deinit { close(descriptor) }
}

/// A TCP socket listening on 127.0.0.1 that never accepts: connections complete in the
/// kernel's backlog and then hear nothing, like an upstream that hangs.
public final class ListeningSocket: Sendable {
    public let port: Int
    private let descriptor: Int32

    /// `backlog` bounds the connections the kernel completes without an accept; once it is
    /// full, Linux drops further SYNs and a client's connect hangs.
    public init(backlog: Int32 = 16) throws {
        (descriptor, port) = try bindLoopback(listenBacklog: backlog)
    }

    deinit { close(descriptor) }
}

/// A TCP socket bound to 127.0.0.1 on a port the kernel picks, listening when `listenBacklog`
/// is given; returns the descriptor and the port.
private func bindLoopback(listenBacklog: Int32?) throws -> (Int32, Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic -> Bool in
            Glibc.bind(descriptor, generic, length) == 0 && (listenBacklog.map { listen(descriptor, $0) == 0 } ?? true)
                && getsockname(descriptor, generic, &length) == 0
        }
    }
    guard bound else {
        let error = errno
        close(descriptor)
        throw POSIXError(.init(rawValue: error) ?? .EIO)
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}
