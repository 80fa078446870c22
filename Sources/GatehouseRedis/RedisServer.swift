import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every connection to one Redis shares: where it is, how long to wait, whom to tell about
/// failures, and whether it was last seen unreachable (so an outage is logged once). Held by the
/// client and by each of its connections, so a connection outliving its client stays safe.
/// Thread-safe.
final class RedisServer: Sendable {
    let address: RedisServerAddress
    let logger: Logger
    /// A command not answered within this fails (and its connection is closed).
    let commandTimeout: TimeAmount
    let retryDelay: TimeAmount
    let onFailure: @Sendable () -> Void
    private let unreachable = NIOLockedValueBox(false)

    init(
        address: RedisServerAddress, logger: Logger, commandTimeout: TimeAmount, retryDelay: TimeAmount,
        onFailure: @escaping @Sendable () -> Void
    ) {
        self.address = address
        self.logger = logger
        self.commandTimeout = commandTimeout
        self.retryDelay = retryDelay
        self.onFailure = onFailure
    }

    func reachabilityChanged(reachable: Bool, error: (any Error)?) {
        let changed = unreachable.withLockedValue { unreachable in
            defer { unreachable = !reachable }
            return unreachable == reachable
        }
        guard changed else { return }
        if reachable {
            logger.notice("redis reachable again", metadata: ["redis": "\(address)"])
        } else {
            logger.error(
                "redis unreachable; commands to it fail at once until it answers again",
                metadata: ["redis": "\(address)", "error": "\(error.map { "\($0)" } ?? "timeout")"])
        }
    }
}
