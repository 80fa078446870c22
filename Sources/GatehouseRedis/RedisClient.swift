import Crypto
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One Redis server, used for counting (and for answers shared by data planes): one pipelined
/// connection per event loop, opened on first use. An increment is one round trip: an atomic Lua script increments a key and sets
/// its expiry when it is new. Thread-safe; meant to be shared and long-lived (the gateway keeps
/// one per URL across snapshots).
///
/// When Redis cannot be reached, commands fail at once (no queueing behind a dead server) until
/// `retryDelay` has passed; then the next command tries to connect again.
public final class RedisClient: Sendable {
    private let server: RedisServer
    private let connections = NIOLockedValueBox<[ObjectIdentifier: RedisConnection]>([:])

    public var address: RedisServerAddress { server.address }

    static let incrementScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """
    static let decrementScript = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0"
    static let incrementScriptSHA: String = Insecure.SHA1.hash(data: Array(incrementScript.utf8)).map { byte in
        let digits = Array("0123456789abcdef")
        return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
    }.joined()

    /// - Parameters:
    ///   - commandTimeout: a command not answered within this fails, and its connection closes.
    ///   - retryDelay: after a failure, commands fail at once for this long before a new connection is tried.
    ///   - onFailure: called for every command that failed, timed out or was not sent because Redis is down.
    public init(
        address: RedisServerAddress, logger: Logger, commandTimeout: TimeAmount = .milliseconds(250),
        retryDelay: TimeAmount = .seconds(1), onFailure: @escaping @Sendable () -> Void = {}
    ) {
        server = RedisServer(address: address, logger: logger, commandTimeout: commandTimeout, retryDelay: retryDelay, onFailure: onFailure)
    }

    /// Adds one to `key` (created with a time to live of `ttl`) and calls `done` on `loop` with
    /// the new count, or nil when Redis could not be asked. Call on `loop`.
    public func increment(_ key: String, ttl: TimeAmount, on loop: any EventLoop, _ done: @escaping (Int?) -> Void) {
        connection(on: loop).increment(key, ttlMilliseconds: max(1, ttl.nanoseconds / 1_000_000), done)
    }

    /// Takes back one count of `key` (a request another limit refused), if the key still exists;
    /// nothing is reported back. Call on `loop`.
    public func decrement(_ key: String, on loop: any EventLoop) {
        connection(on: loop).decrement(key)
    }

    /// What `get` found.
    public enum Value: Sendable {
        case found([UInt8])
        case missing
        /// Redis could not be asked.
        case failed
    }

    /// Reads `key` and calls `done` on `loop` with what is there. Call on `loop`.
    public func get(_ key: String, on loop: any EventLoop, _ done: @escaping (Value) -> Void) {
        connection(on: loop).get(key, done)
    }

    /// Sets `key` (UTF-8 text) for `ttl`; nothing is reported back. Call on `loop`.
    public func set(_ key: String, _ value: [UInt8], ttl: TimeAmount, on loop: any EventLoop) {
        connection(on: loop).set(key, value, ttlMilliseconds: max(1, ttl.nanoseconds / 1_000_000))
    }

    private func connection(on loop: any EventLoop) -> RedisConnection {
        let id = ObjectIdentifier(loop)
        return connections.withLockedValue { connections in
            if let existing = connections[id] { return existing }
            let created = RedisConnection(server: server, loop: loop)
            connections[id] = created
            return created
        }
    }
}
