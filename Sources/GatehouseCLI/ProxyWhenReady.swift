import GatehouseProxy
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Binds the proxy listener only once the data plane serves a config. During an upgrade the new
/// process shares the port with the old one, so it must not take connections it would answer
/// with 503 "not ready".
final class ProxyWhenReady: Service {
    private let state: DataPlaneState
    private let bind: @Sendable () async throws -> Listener
    private let listener = NIOLockedValueBox<Listener?>(nil)

    init(state: DataPlaneState, bind: @escaping @Sendable () async throws -> Listener) {
        self.state = state
        self.bind = bind
    }

    var drainOutcome: Listener.DrainOutcome? { listener.withLockedValue { $0 }?.drainOutcome }

    func run() async throws {
        // Start-up only: a short poll, ended by a shutdown that comes first.
        while !state.isReady {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(10)) }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
        }
        let bound = try await bind()
        listener.withLockedValue { $0 = bound }
        try await bound.run()
    }
}
