import Crypto
import GatehouseModel
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One Redis server as rate limits and quotas use it: one pipelined connection per event loop,
/// opened on first use. Counting a request is one round trip: an atomic Lua script increments a
/// key and sets its expiry when it is new. Thread-safe; shared by every policy naming the URL
/// and kept across snapshots.
///
/// When Redis cannot be reached, commands fail at once (no queueing behind a dead server) until
/// `retryDelay` has passed; then the next command tries to connect again.
public final class RedisClient: Sendable {
    let address: RedisAddress
    let logger: Logger
    let metrics: PolicyMetrics
    /// A command not answered within this fails (and its connection is closed).
    let commandTimeout: TimeAmount
    let retryDelay: TimeAmount
    private let connections = NIOLockedValueBox<[ObjectIdentifier: RedisConnection]>([:])
    /// Whether the last attempt found Redis unreachable: the log says so once per outage.
    private let unreachable = NIOLockedValueBox(false)

    static let incrementScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """
    static let incrementScriptSHA: String = Insecure.SHA1.hash(data: Array(incrementScript.utf8)).map { byte in
        let digits = Array("0123456789abcdef")
        return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
    }.joined()

    init(
        address: RedisAddress, logger: Logger, metrics: PolicyMetrics, commandTimeout: TimeAmount = .milliseconds(250),
        retryDelay: TimeAmount = .seconds(1)
    ) {
        self.address = address
        self.logger = logger
        self.metrics = metrics
        self.commandTimeout = commandTimeout
        self.retryDelay = retryDelay
    }

    /// Adds one to `key` (created with a time to live of `ttl`) and calls `done` on `loop` with
    /// the new count, or nil when Redis could not be asked. Call on `loop`.
    func increment(_ key: String, ttl: TimeAmount, on loop: any EventLoop, _ done: @escaping (Int?) -> Void) {
        connection(on: loop).increment(key, ttlMilliseconds: max(1, ttl.nanoseconds / 1_000_000), done)
    }

    private func connection(on loop: any EventLoop) -> RedisConnection {
        let id = ObjectIdentifier(loop)
        return connections.withLockedValue { connections in
            if let existing = connections[id] { return existing }
            let created = RedisConnection(client: self, loop: loop)
            connections[id] = created
            return created
        }
    }

    func reachabilityChanged(reachable: Bool, error: (any Error)?) {
        let changed = unreachable.withLockedValue { unreachable in
            defer { unreachable = !reachable }
            return unreachable == reachable
        }
        guard changed else { return }
        if reachable {
            logger.notice("redis reachable again; rate limits and quotas count there", metadata: ["redis": "\(address)"])
        } else {
            logger.error(
                "redis unreachable; rate limits and quotas using it fail open or closed as configured",
                metadata: ["redis": "\(address)", "error": "\(error.map { "\($0)" } ?? "timeout")"])
        }
    }
}
