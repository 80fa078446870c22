import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Bound server sockets (one per event loop for the proxy, one for the status port) as a
/// service: they serve from the moment they are bound, log their address when the service group
/// starts, and stop on graceful shutdown. A listener with a `Drain` closes its sockets, lets every
/// open connection finish its request (answered with `Connection: close`) and close, and cuts
/// what is left after the drain timeout.
public final class Listener: Service {
    public struct Drain: Sendable {
        let connections: [ConnectionTracker]
        let timeout: TimeAmount
        let onStart: @Sendable () -> Void
        /// Once the connections are done (or cut): what must reach disk before the process ends.
        var onEnd: @Sendable () async -> Void = {}
    }

    public enum DrainOutcome: Sendable, Equatable {
        case drained
        case cut
    }

    public let name: String
    public let localAddress: SocketAddress
    private let channels: [any Channel]
    private let logger: Logger
    private let drain: Drain?
    private let outcome = NIOLockedValueBox<DrainOutcome?>(nil)

    private let ownDescriptors: [CInt]
    /// Open until the drain starts; lent while a successor is being given the sockets, handed
    /// over once it took them.
    private let sockets = NIOLockedValueBox(SocketsState.open)

    private enum SocketsState {
        case open
        case lent
        case handedOver
        case closed
    }

    /// Stops accepting and returns copies (`dup`) of the listening sockets for a successor
    /// (`SocketHandoff`), while they are open; the caller closes them and then says whether the
    /// successor took them (`handOverEnded`). Accepting stops first, so the two processes never
    /// wait on one socket together (both would be woken for each connection, and NIO asserts a
    /// wake-up has something to accept); connections arriving meanwhile wait in the sockets'
    /// accept queues. Not called on an event loop: it waits for the loops.
    public func handOver() -> [CInt]? {
        sockets.withLockedValue { state in
            guard case .open = state, !ownDescriptors.isEmpty else { return nil }
            let copies = ownDescriptors.map { dup($0) }
            guard copies.allSatisfy({ $0 >= 0 }) else {
                for copy in copies where copy >= 0 { close(copy) }
                return nil
            }
            setAccepting(false)
            state = .lent
            return copies
        }
    }

    /// After `handOver`: the successor serves the sockets now (`taken`), or it did not confirm and
    /// this process accepts on them again.
    public func handOverEnded(taken: Bool) {
        if taken {
            sockets.withLockedValue { state in if state == .lent { state = .handedOver } }
        } else {
            acceptAgain(after: .lent)
        }
    }

    /// The process that took the sockets has ended while this one still serves: accept on them again.
    public func handedBack() {
        acceptAgain(after: .handedOver)
    }

    /// Accepts again if the sockets are still `state` (not closed by a drain meanwhile).
    private func acceptAgain(after state: SocketsState) {
        sockets.withLockedValue { current in
            guard current == state else { return }
            setAccepting(true)
            current = .open
        }
    }

    private func setAccepting(_ accepting: Bool) {
        for channel in channels { try? channel.setOption(.autoRead, value: accepting).wait() }
    }

    init(name: String, channels: [any Channel], logger: Logger, drain: Drain? = nil, descriptors: [CInt] = []) {
        self.name = name
        self.channels = channels
        ownDescriptors = descriptors
        localAddress = channels[0].localAddress!
        self.logger = logger
        self.drain = drain
    }

    /// How the last drain ended, once it has.
    public var drainOutcome: DrainOutcome? { outcome.withLockedValue { $0 } }

    public func run() async throws {
        logger.info("\(name) listening", metadata: ["address": "\(localAddress.display)"])
        try? await gracefulShutdown()
        guard let drain else {
            sockets.withLockedValue { $0 = .closed }
            for channel in channels { try? await channel.close() }
            return
        }
        let handedOver = sockets.withLockedValue { state in
            defer { state = .closed }
            if case .open = state { return false }
            return true
        }
        drain.onStart()
        logger.info("\(name) draining", metadata: ["timeout": "\(drain.timeout)"])
        if !handedOver, !ownDescriptors.isEmpty,
            let migrate = try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_migrate_req", encoding: .utf8), migrate.hasPrefix("0")
        {
            logger.notice(
                "net.ipv4.tcp_migrate_req is 0 and no new process took these sockets: connections still queued on them as they close are reset; upgrade with the handoff socket (deploy/upgrade.sh) or set it to 1"
            )
        }
        let result = await Self.drain(channels, drain)
        await drain.onEnd()
        outcome.withLockedValue { $0 = result }
        if result == .cut {
            logger.warning("\(name) drain timed out; the connections still open will be cut")
        } else {
            logger.info("\(name) drained")
        }
    }

    /// Closes the listener, asks every connection to finish, and waits for them or the timeout.
    private static func drain(_ servers: [any Channel], _ drain: Drain) async -> DrainOutcome {
        let eventLoop = servers[0].eventLoop
        let all = ConnectionTracker.drain(servers, drain.connections, on: eventLoop)
        let first = eventLoop.makePromise(of: DrainOutcome.self)
        eventLoop.execute {
            var settled = false
            let settle = { (outcome: DrainOutcome) in
                if !settled {
                    settled = true
                    first.succeed(outcome)
                }
            }
            let timer = eventLoop.assumeIsolated().scheduleTask(in: drain.timeout) { settle(.cut) }
            all.hop(to: eventLoop).assumeIsolated().whenComplete { _ in
                timer.cancel()
                settle(.drained)
            }
        }
        return (try? await first.futureResult.get()) ?? .cut
    }
}
