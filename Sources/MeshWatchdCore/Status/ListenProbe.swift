import Foundation

extension ListenAddress {
    /// Checks that the status listener can bind here before the daemon starts, so a busy or
    /// wrong address is refused with its name and the system's reason (not a bind() trace).
    /// The probe binds as the listener does (`SO_REUSEADDR`) and closes at once.
    func checkAvailable() throws -> Void {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &found)
        guard lookup == 0, let first = found else {
            throw ListenError(address: self, reason: String(cString: gai_strerror(lookup)))
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { throw ListenError(address: self, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var one: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            throw ListenError(address: self, reason: String(cString: strerror(errno)))
        }
    }
}

/// The status listener cannot listen where it was told to.
struct ListenError: Error, CustomStringConvertible {
    let address: ListenAddress
    let reason: String
    var description: String {
        "cannot listen on \(address.host):\(address.port) (--listen or listen_address): \(reason)"
    }
}
