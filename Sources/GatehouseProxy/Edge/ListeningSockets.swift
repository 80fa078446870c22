import CSocketPassing
import NIOCore

#if canImport(Glibc)
import Glibc
#endif
// sockaddr_in's members may be found through NIO's C module, depending on which files the
// compiler reads together (MemberImportVisibility).
#if canImport(CNIOLinux)
import CNIOLinux
#endif

/// The proxy's listening TCP sockets as descriptors, before SwiftNIO takes them over: bound
/// here (one `SO_REUSEPORT` socket per worker), handed over by the process being replaced
/// (`SocketHandoff`), or passed by systemd (`LISTEN_FDS`). Sockets that were handed over keep
/// their accept queues: a connection the old process had not accepted yet is accepted by the
/// new one, where a socket closed under it would have been reset.
public struct ListeningSockets: Sendable {
    public enum Origin: String, Sendable {
        case bound
        case handedOver = "handed over"
        case systemd
    }

    public let descriptors: [CInt]
    public let origin: Origin

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    init(descriptors: [CInt], origin: Origin) {
        self.descriptors = descriptors
        self.origin = origin
    }

    /// `count` sockets on `address`, sharing its port with `SO_REUSEPORT` (port 0: the port the
    /// first one was given).
    static func bind(_ address: ListenAddress, count: Int) throws(Failure) -> ListeningSockets {
        var descriptors: [CInt] = []
        var port = address.port
        do throws(Failure) {
            for _ in 0..<count {
                let resolved: SocketAddress
                do {
                    resolved = try SocketAddress.makeAddressResolvingHost(address.host, port: port)
                } catch {
                    throw Failure(description: "cannot resolve \(address): \(error)")
                }
                let descriptor = try listen(on: resolved, address: address)
                descriptors.append(descriptor)
                port = localPort(of: descriptor) ?? port
            }
        } catch {
            for descriptor in descriptors { close(descriptor) }
            throw error
        }
        return ListeningSockets(descriptors: descriptors, origin: .bound)
    }

    private static func listen(on resolved: SocketAddress, address: ListenAddress) throws(Failure) -> CInt {
        let family = resolved.protocol == .inet6 ? AF_INET6 : AF_INET
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "cannot open a socket for \(address): \(errnoText())") }
        var one: CInt = 1
        let size = socklen_t(MemoryLayout<CInt>.size)
        let bound = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, size) == 0
            && setsockopt(descriptor, SOL_SOCKET, SO_REUSEPORT, &one, size) == 0
            && resolved.withSockAddr { pointer, length in Glibc.bind(descriptor, pointer, socklen_t(length)) } == 0
            && Glibc.listen(descriptor, 1024) == 0
        guard bound else {
            let reason = errnoText()
            close(descriptor)
            throw Failure(description: "cannot listen on \(address): \(reason)")
        }
        return descriptor
    }

    /// Descriptors systemd passed for `address` (`LISTEN_PID` is this process, `LISTEN_FDS`
    /// counts them from 3): the listening TCP sockets whose port is the address's; nil when none.
    public static func fromSystemd(for address: ListenAddress, environment: [String: String]) -> ListeningSockets? {
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
            let count = environment["LISTEN_FDS"].flatMap(Int32.init), (1...64).contains(count)
        else { return nil }
        let matching = (3..<(3 + count)).filter { isListening($0, port: address.port) }
        return matching.isEmpty ? nil : ListeningSockets(descriptors: Array(matching), origin: .systemd)
    }

    /// Whether `descriptor` is a listening TCP socket on `port` (any port for 0).
    static func isListening(_ descriptor: CInt, port: Int) -> Bool {
        var accepting: CInt = 0
        var size = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size) == 0, accepting == 1 else { return false }
        var type: CInt = 0
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &size) == 0, type == Int32(SOCK_STREAM.rawValue),
            let local = localPort(of: descriptor)
        else { return false }
        return port == 0 || local == port
    }

    static func localPort(of descriptor: CInt) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard found == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
