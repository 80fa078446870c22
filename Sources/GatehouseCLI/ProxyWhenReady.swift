import Foundation
import GatehouseProxy
import Logging
import NIOCore
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Binds the proxy listener only once the data plane serves a config. During an upgrade the new
/// process takes over the port from the old one, so it must not take connections it would
/// answer with 503 "not ready".
///
/// The listening sockets come from systemd (`LISTEN_FDS`) when it passed them, else from the
/// process being replaced when one answers at `handoffPath` (its sockets, accept queues and all),
/// else they are bound anew; from then on this process answers at `handoffPath` for the next.
final class ProxyWhenReady: Service {
    private let state: DataPlaneState
    private let address: ListenAddress
    private let handoffPath: String?
    private let logger: Logger
    private let bind: @Sendable (ListeningSockets?) async throws -> Listener
    private let listener = NIOLockedValueBox<Listener?>(nil)

    init(
        state: DataPlaneState, address: ListenAddress, handoffPath: String?, logger: Logger,
        bind: @escaping @Sendable (ListeningSockets?) async throws -> Listener
    ) {
        self.state = state
        self.address = address
        self.handoffPath = handoffPath
        self.logger = logger
        self.bind = bind
    }

    var drainOutcome: Listener.DrainOutcome? { listener.withLockedValue { $0 }?.drainOutcome }

    func run() async throws {
        // Start-up only: a short poll, ended by a shutdown that comes first.
        while !state.isReady {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(10)) }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
        }
        let systemd = ListeningSockets.fromSystemd(for: address, environment: ProcessInfo.processInfo.environment)
        let received = systemd == nil ? handoffPath.flatMap { SocketHandoff.receive(path: $0, address: address, logger: logger) } : nil
        let bound: Listener
        do {
            bound = try await bind(systemd ?? received?.sockets)
        } catch {
            received?.release()
            throw error
        }
        // From here this process accepts on them, and the old one no longer does.
        received?.confirm()
        listener.withLockedValue { $0 = bound }
        var handoff: SocketHandoff?
        if let handoffPath {
            do {
                // Port 0 stands for the port it picked: that is what a successor asks for.
                let served = ListenAddress(host: address.host, port: bound.localAddress.port ?? address.port)
                handoff = try SocketHandoff.serve(
                    path: handoffPath, address: served, sockets: { bound.handOver() }, ended: { bound.handOverEnded(taken: $0) },
                    returned: { bound.handedBack() }, logger: logger)
            } catch {
                logger.warning("upgrades will not be handed this process's sockets", metadata: ["error": "\(error)"])
            }
        }
        defer { handoff?.stop() }
        // Held while serving: its end tells the process these sockets came from, if it still
        // runs, to accept on them again.
        defer { received?.release() }
        try await bound.run()
    }
}
