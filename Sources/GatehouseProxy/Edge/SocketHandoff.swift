import CSocketPassing
import Foundation
import GatehouseModel
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
// The release build finds timeval's members there, and the socket types in NIO's C module
// (MemberImportVisibility, depending on which files the compiler reads together).
// `stat`'s members, once X509 (through GatehouseModel) brings CoreFoundation's declaration of it.
#if canImport(CoreFoundation)
import CoreFoundation
#endif
#if canImport(SwiftOverlayShims)
import SwiftOverlayShims
#endif
#if canImport(CNIOLinux)
import CNIOLinux
#endif

/// Hands the proxy's listening sockets to the process that replaces this one (nginx's USR2,
/// HAProxy's `-x`): over a Unix socket at `path`, only to a process of the same user, as
/// descriptors (`SCM_RIGHTS`). The old process stops accepting before it sends them and the new
/// one confirms once it serves them, so one process at a time accepts and no connection queued
/// on the sockets is lost; without the confirmation (the new process failed, or took more than
/// `confirmTimeout`) the old one accepts again. The old process then serves its open connections
/// until it is told to drain. The connection between the two stays open while the new process
/// lives: should it end before the old one drains (it crashed, or it was stopped to roll the
/// upgrade back), the old process accepts on the sockets again.
///
/// A process starting up asks first (`receive`); the one that answers is the one it replaces.
/// It then serves the path itself (`SocketHandoff.serve`), for the next upgrade. Both ends check
/// that the other runs as the same user.
public final class SocketHandoff: Sendable {
    private let path: String
    private let listening: CInt
    /// The path's inode when this process bound it: at the stop it is removed only if it is
    /// still this process's (a successor has replaced it with its own meanwhile).
    private let inode: UInt64
    private let stopped = Atomic(false)
    private let logger: Logger
    /// For the whole confirmation, however the peer spreads its bytes: a real successor confirms
    /// within milliseconds.
    static let confirmTimeout = Duration.seconds(5)
    private static let confirmation = Array("taken\n".utf8)

    /// Sockets received from the process being replaced, which waits for `confirm` (or the
    /// connection's end) before it goes on. Keep it while serving the sockets: its end (`release`,
    /// or this process's) tells the old process to accept on them again if it still runs.
    public final class Received: Sendable {
        public let sockets: ListeningSockets
        private let connection: CInt
        private let closed = Atomic(false)
        private let confirmed = Atomic(false)

        init(sockets: ListeningSockets, connection: CInt) {
            self.sockets = sockets
            self.connection = connection
        }

        /// This process serves the sockets now: the old one must not accept on them while this lives.
        public func confirm() {
            guard !closed.load(ordering: .relaxed), !confirmed.exchange(true, ordering: .relaxed) else { return }
            _ = write(connection, SocketHandoff.confirmation, SocketHandoff.confirmation.count)
        }

        /// This process could not serve them, or serves them no longer: the old one accepts on them again.
        public func release() {
            guard !closed.exchange(true, ordering: .relaxed) else { return }
            close(connection)
        }

        deinit { release() }
    }

    /// What the old process says beside the descriptors.
    struct Offer: Equatable {
        var address: String
        var count: Int

        var json: JSONValue { ["address": .string(address), "count": .int(count)] }

        init(address: String, count: Int) {
            self.address = address
            self.count = count
        }

        init?(_ value: JSONValue) {
            guard let address = value["address"]?.stringValue, let count = value["count"]?.intValue else { return nil }
            self.init(address: address, count: count)
        }
    }

    /// Asks the process serving `path` for its listening sockets on `address`. Nil when no process
    /// of this user answers (none runs, or the path is stale), or what it offers is not for
    /// `address`; descriptors it passed that do not fit are closed. The caller confirms or
    /// declines what it received.
    public static func receive(path: String, address: ListenAddress, logger: Logger) -> Received? {
        let connection = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard connection >= 0 else { return nil }
        var keep = false
        defer { if !keep { close(connection) } }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(connection, toUnixPath: path) else { return nil }
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard csp_peer(connection, &uid, &pid) == 0, uid == getuid() else {
            logger.warning("the handoff socket is served by another user; binding anew", metadata: ["path": "\(path)"])
            return nil
        }
        let request = Array("proxy \(address)\n".utf8)
        guard write(connection, request, request.count) == request.count else { return nil }
        var descriptors = [CInt](repeating: -1, count: 64)
        var count: CInt = 0
        var data = [UInt8](repeating: 0, count: 4096)
        let received = csp_receive_descriptors(connection, &descriptors, 64, &count, &data, data.count)
        let passed = Array(descriptors.prefix(Int(count)))
        guard received > 0, let offer = (try? JSONValue.parse(Array(data.prefix(Int(received))))).flatMap(Offer.init),
            offer.address == address.description, offer.count == passed.count, !passed.isEmpty,
            passed.allSatisfy({ ListeningSockets.isListening($0, port: address.port) })
        else {
            for descriptor in passed { close(descriptor) }
            if received > 0 { logger.warning("the process at the handoff socket offered no listening socket for this address", metadata: ["path": "\(path)"]) }
            return nil
        }
        for descriptor in passed { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        keep = true
        return Received(sockets: ListeningSockets(descriptors: passed, origin: .handedOver), connection: connection)
    }

    /// Serves `path` (replacing whatever is there) until `stop`: each process of this user that
    /// connects gets `sockets()` (descriptors this closes once sent) if it names `address`, and
    /// `ended` is told whether it confirmed taking them; and `returned` once a process that took
    /// them has ended.
    public static func serve(
        path: String, address: ListenAddress, sockets: @escaping @Sendable () -> [CInt]?, ended: @escaping @Sendable (_ taken: Bool) -> Void,
        returned: @escaping @Sendable () -> Void, logger: Logger
    ) throws(ListeningSockets.Failure) -> SocketHandoff {
        // Only a socket is replaced: a path given by mistake (the database, say) is left alone.
        var existing = stat()
        if lstat(path, &existing) == 0 {
            guard existing.st_mode & S_IFMT == S_IFSOCK else {
                throw .init(description: "\(path) exists and is not a socket; choose another --handoff-socket")
            }
            unlink(path)
        }
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw .init(description: "the handoff socket path \(path) is longer than a Unix socket path may be (107 bytes)")
        }
        let listening = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listening >= 0 else { throw .init(description: "cannot open the handoff socket: \(ListeningSockets.errnoText())") }
        // Only this user may connect: the sockets are the gateway's port.
        let mask = umask(0o077)
        let bound = bind(listening, toUnixPath: path)
        umask(mask)
        guard bound, listen(listening, 8) == 0 else {
            let reason = ListeningSockets.errnoText()
            close(listening)
            throw .init(description: "cannot listen on the handoff socket \(path): \(reason)")
        }
        var status = stat()
        let inode = stat(path, &status) == 0 ? UInt64(status.st_ino) : 0
        let handoff = SocketHandoff(path: path, listening: listening, inode: inode, logger: logger)
        let thread = Thread { handoff.acceptLoop(address: address, sockets: sockets, ended: ended, returned: returned) }
        thread.name = "gatehouse-handoff"
        thread.start()
        return handoff
    }

    private init(path: String, listening: CInt, inode: UInt64, logger: Logger) {
        self.path = path
        self.listening = listening
        self.inode = inode
        self.logger = logger
    }

    /// Stops answering; removes the path unless a successor has replaced it.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        var status = stat()
        if stat(path, &status) == 0, UInt64(status.st_ino) == inode { unlink(path) }
    }

    private func acceptLoop(
        address: ListenAddress, sockets: @Sendable () -> [CInt]?, ended: @Sendable (Bool) -> Void, returned: @escaping @Sendable () -> Void
    ) {
        defer { close(listening) }
        while !stopped.load(ordering: .relaxed) {
            var poller = pollfd(fd: listening, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let connection = csp_accept(listening)
            guard connection >= 0 else { continue }
            if answer(connection, address: address, sockets: sockets, ended: ended) {
                watch(connection, returned: returned)
            } else {
                close(connection)
            }
        }
    }

    /// Waits, on a thread of its own, for the end of the process that took the sockets.
    private func watch(_ connection: CInt, returned: @escaping @Sendable () -> Void) {
        let logger = logger
        let thread = Thread {
            var byte: UInt8 = 0
            var poller = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            // Anything but more bytes is the end: EOF, an error, a hang-up.
            while poll(&poller, 1, -1) >= 0 || errno == EINTR {
                if poller.revents != 0, recv(connection, &byte, 1, Int32(MSG_DONTWAIT)) != 1 { break }
            }
            close(connection)
            logger.notice("the process that took the listening sockets has ended")
            returned()
        }
        thread.name = "gatehouse-handoff-watch"
        thread.start()
    }

    /// Whether the sockets were taken (the connection is then kept, to learn when the taker ends).
    private func answer(_ connection: CInt, address: ListenAddress, sockets: @Sendable () -> [CInt]?, ended: @Sendable (Bool) -> Void) -> Bool {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard csp_peer(connection, &uid, &pid) == 0, uid == getuid() else {
            logger.warning("refused a handoff request from another user", metadata: ["path": "\(path)"])
            return false
        }
        var request = [UInt8](repeating: 0, count: 256)
        let count = read(connection, &request, request.count)
        guard count > 0, String(decoding: request.prefix(count), as: UTF8.self) == "proxy \(address)\n",
            let descriptors = sockets(), !descriptors.isEmpty
        else {
            _ = csp_send_descriptors(connection, [], 0, "{}", 2)
            return false
        }
        let offer = Array(Offer(address: address.description, count: descriptors.count).json.canonicalBytes)
        let sent = csp_send_descriptors(connection, descriptors, CInt(descriptors.count), offer, offer.count) == 0
        for descriptor in descriptors { close(descriptor) }
        let taken = sent && Self.confirmed(on: connection)
        ended(taken)
        if taken {
            logger.notice("listening sockets handed to a new process", metadata: ["pid": "\(pid)", "sockets": "\(descriptors.count)"])
        } else {
            logger.warning("a new process asked for the listening sockets but did not take them; accepting on them again", metadata: ["pid": "\(pid)"])
        }
        return taken
    }

    /// Whether the peer says it serves the sockets, all of it within `confirmTimeout`.
    private static func confirmed(on connection: CInt) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + confirmTimeout
        var reply = [UInt8](repeating: 0, count: confirmation.count)
        var length = 0
        while length < confirmation.count {
            let left = deadline - clock.now
            guard left > .zero else { return false }
            var poller = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&poller, 1, milliseconds) > 0 else { return false }
            let count = recv(connection, &reply[length], confirmation.count - length, Int32(MSG_DONTWAIT))
            guard count > 0 else { return false }
            length += count
        }
        return reply == confirmation
    }

    private static func connect(_ descriptor: CInt, toUnixPath path: String) -> Bool {
        withUnixAddress(path) { Glibc.connect(descriptor, $0, $1) == 0 }
    }

    private static func bind(_ descriptor: CInt, toUnixPath path: String) -> Bool {
        withUnixAddress(path) { Glibc.bind(descriptor, $0, $1) == 0 }
    }

    private static func withUnixAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
