import GatehouseTestSupport
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import GatehouseRedis

/// The client against a real `redis-server`.
@Suite struct RedisClientTests {
    static let loop = MultiThreadedEventLoopGroup.singleton.next()

    static func client(_ address: RedisServerAddress) -> RedisClient {
        RedisClient(address: address, logger: Logger(label: "test"))
    }

    static func increment(_ client: RedisClient, _ key: String, ttl: TimeAmount = .seconds(60)) async -> Int? {
        await withCheckedContinuation { continuation in
            loop.execute { client.increment(key, ttl: ttl, on: loop) { continuation.resume(returning: $0) } }
        }
    }

    @Test func incrementsCountUpAndTheKeyExpires() async throws {
        let redis = try await TestRedis.start()
        let client = Self.client(RedisServerAddress(host: "127.0.0.1", port: redis.port))
        #expect(await Self.increment(client, "hits", ttl: .seconds(30)) == 1)
        #expect(await Self.increment(client, "hits", ttl: .seconds(30)) == 2)
        #expect(await Self.increment(client, "hits", ttl: .seconds(30)) == 3)
        #expect(try await redis.cli("GET", "hits") == "3")
        let ttl = try #require(Int(try await redis.cli("PTTL", "hits")))
        #expect(ttl > 0 && ttl <= 30_000)
    }

    @Test func itLogsInAndSelectsTheDatabase() async throws {
        let redis = try await TestRedis.start(password: "s3cret")
        let client = Self.client(RedisServerAddress(host: "127.0.0.1", port: redis.port, password: "s3cret", database: 3))
        #expect(await Self.increment(client, "k") == 1)
        #expect(try await redis.cli("-n", "3", "GET", "k") == "1")
        #expect(try await redis.cli("-n", "0", "EXISTS", "k") == "0")
    }

    @Test func aWrongPasswordOrNoServerFailsTheCommandAndIsCounted() async throws {
        let redis = try await TestRedis.start(password: "s3cret")
        let failures = FailureCount()
        let wrong = RedisClient(
            address: RedisServerAddress(host: "127.0.0.1", port: redis.port, password: "nope"), logger: Logger(label: "test")
        ) { failures.add() }
        #expect(await Self.increment(wrong, "k") == nil)
        // Within the retry delay it fails at once, without asking again.
        #expect(await Self.increment(wrong, "k") == nil)
        #expect(failures.value == 2)
        #expect(try await redis.cli("EXISTS", "k") == "0")
        let port = redis.port
        redis.stop()
        let gone = RedisClient(address: RedisServerAddress(host: "127.0.0.1", port: port), logger: Logger(label: "test")) { failures.add() }
        #expect(await Self.increment(gone, "k") == nil)
        #expect(failures.value == 3)
    }

    @Test func aServerThatStopsAnsweringTimesOutAndIsUsedAgainOnceItAnswers() async throws {
        let redis = try await TestRedis.start()
        let client = RedisClient(
            address: RedisServerAddress(host: "127.0.0.1", port: redis.port), logger: Logger(label: "test"),
            commandTimeout: .milliseconds(100), retryDelay: .milliseconds(50))
        #expect(await Self.increment(client, "k") == 1)
        redis.pause()
        #expect(await Self.increment(client, "k") == nil)
        redis.resume()
        var count: Int?
        try await waitUntil("redis counting again") {
            count = await Self.increment(client, "k")
            return count != nil
        }
        // The timed-out command may or may not have counted: Redis ran it after resuming.
        #expect(count == 2 || count == 3)
    }
}

/// Failures the client reported, from any thread.
final class FailureCount: Sendable {
    private let count = Atomic(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
