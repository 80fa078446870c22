import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import GatehouseProxy

/// Connection limits per target, and retries of idempotent requests after an upstream failure.
@Suite struct UpstreamPoolTests {
    /// One event loop, so every client connection shares one pool.
    static let oneLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func proxy(to upstream: TestUpstream, pool: JSONValue, timeouts: JSONValue = [:]) async throws -> ProxyHarness {
        let proxy = try await ProxyHarness.start(group: oneLoop)
        try proxy.apply(
            version: 1,
            upstreams: [["name": "u", "pool": pool, "timeouts": timeouts, "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "all", "upstream": "u"]])
        return proxy
    }

    @Test func atTheLimitARequestWaitsForTheConnectionGivenBack() async throws {
        let upstream = try await TestUpstream.start()
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let endpoint = UpstreamEndpoint(host: "127.0.0.1", port: upstream.port, weight: 100, name: nil)
        let limits = {
            var limits = Upstream.Pool()
            limits.maxConnections = 1
            return limits
        }()
        let outcome = try await loop.flatSubmit { () -> EventLoopFuture<(firstWasNew: Bool, waited: Bool, sameConnection: Bool, reused: Bool)> in
            let pool = UpstreamConnectionPool(eventLoop: loop)
            var first: UpstreamConnection?
            var second: (UpstreamConnection, reused: Bool)?
            let connected = loop.makePromise(of: Bool.self)
            pool.acquire(endpoint, key: "k", tls: nil, connectTimeout: .seconds(10), limits: limits) { result in
                let (connection, reused) = try! result.get()
                first = connection
                connected.succeed(reused)
            }
            return connected.futureResult.assumeIsolated().map { reused in
                pool.acquire(endpoint, key: "k", tls: nil, connectTimeout: .seconds(10), limits: limits) { result in
                    second = try! result.get()
                }
                let waited = second == nil
                pool.release(first!, reusable: true)
                return (!reused, waited, second?.0 === first, second?.reused ?? false)
            }.nonisolated()
        }.get()
        #expect(outcome.firstWasNew)
        #expect(outcome.waited)
        #expect(outcome.sameConnection)
        #expect(outcome.reused)
        // The upstream's side of the connection may be set up a moment after ours: wait for it,
        // then make sure no second one came.
        try await waitUntil("the upstream to accept the connection") { upstream.connectionCount >= 1 }
        #expect(upstream.connectionCount == 1)
    }

    @Test func aRequestThatFindsNoFreeConnectionInTimeGets503() async throws {
        let upstream = try await TestUpstream.start()
        // `connect` bounds both the first request's connection (which must succeed, however loaded
        // the machine is) and the second one's wait for a free connection.
        let proxy = try await Self.proxy(to: upstream, pool: ["max_connections": 1], timeouts: ["connect": "1s"])
        let held = Task { try await httpRequest(port: proxy.port, .GET, "/hold") }
        try await waitUntil("the first request at the upstream") { upstream.heldCount == 1 }
        let refused = try await httpRequest(port: proxy.port, .GET, "/")
        #expect(refused.status == 503)
        #expect(refused.json["error"]?["code"] == "upstream_busy")
        upstream.release()
        #expect(try await held.value.status == 200)
        #expect(upstream.connectionCount == 1)
        // The slot is free again.
        #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 200)
    }

    @Test func idleConnectionsOverTheIdleLimitAreClosed() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await Self.proxy(to: upstream, pool: ["max_idle": 0])
        for _ in 0..<3 { #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 200) }
        // None kept: each request needed a new connection.
        #expect(upstream.connectionCount == 3)
    }

    @Test func idleConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await Self.proxy(to: upstream, pool: ["idle_timeout": "300ms"])
        #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 200)
        // Left idle, the connection is closed once its time runs out (reuse while busy is
        // `keepAliveReusesOneUpstreamConnection`); the next request opens a new one.
        try await waitUntil("the idle upstream connection to be closed") { upstream.openConnectionCount == 0 }
        let before = upstream.connectionCount
        #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 200)
        #expect(upstream.connectionCount == before + 1)
    }

    @Test func poolSettingsAreValidated() throws {
        #expect(throws: ConfigError.self) { try Upstream.read(["name": "u", "pool": ["max_connections": 0]], id: "u") }
        #expect(throws: ConfigError.self) { try Upstream.read(["name": "u", "pool": ["idle_timeout": "0s"]], id: "u") }
        #expect(throws: ConfigError.self) { try Upstream.read(["name": "u", "pool": ["max_waiting": 1]], id: "u") }
        let upstream = try Upstream.read(["name": "u", "pool": ["max_connections": 8, "idle_timeout": "5s"]], id: "u")
        #expect(upstream.json()["pool"] == ["max_connections": 8, "max_idle": 64, "idle_timeout": "5s"])
    }
}

/// Retries after the upstream failed a request it had received.
@Suite struct UpstreamRetryTests {
    static func proxy(dropping: TestUpstream, answering: TestUpstream, retries: Int) async throws -> ProxyHarness {
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                [
                    "name": "u", "retries": .int(retries),
                    "targets": [["target": .string(dropping.target)], ["target": .string(answering.target)]],
                ]
            ], routes: [["name": "all", "upstream": "u"]])
        return proxy
    }

    @Test func anIdempotentRequestTheUpstreamDroppedGoesToAnotherTarget() async throws {
        let dropping = try await TestUpstream.start(name: "dropping")
        let answering = try await TestUpstream.start(name: "answering")
        dropping.setDropsRequests(true)
        let proxy = try await Self.proxy(dropping: dropping, answering: answering, retries: 1)
        for method in [HTTPMethod.GET, .HEAD, .DELETE, .OPTIONS, .GET, .PUT] {
            let response = try await httpRequest(port: proxy.port, method, "/")
            #expect(response.status == 200, "\(method)")
            if method != .HEAD {
                #expect(response.json["server"] == "answering")
                // The head was ended again for the target it went to: one `Host`, that target's.
                #expect(response.json["headers"]?["host"] == .array([.string(answering.target)]), "\(method)")
            }
        }
        #expect(dropping.droppedCount >= 2)
    }

    @Test func aNonIdempotentRequestIsNotSentTwice() async throws {
        let dropping = try await TestUpstream.start(name: "dropping")
        let answering = try await TestUpstream.start(name: "answering")
        dropping.setDropsRequests(true)
        let proxy = try await Self.proxy(dropping: dropping, answering: answering, retries: 1)
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await httpRequest(port: proxy.port, .POST, "/", json: ["n": 1]).status) }
        // Round-robin: every other POST reaches the dropping target and fails there.
        #expect(statuses.sorted() == [200, 200, 502, 502])
        #expect(dropping.droppedCount == 2)
    }

    @Test func withoutRetriesTheFailureIsAnswered() async throws {
        let dropping = try await TestUpstream.start(name: "dropping")
        let answering = try await TestUpstream.start(name: "answering")
        dropping.setDropsRequests(true)
        let proxy = try await Self.proxy(dropping: dropping, answering: answering, retries: 0)
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await httpRequest(port: proxy.port, .GET, "/").status) }
        #expect(statuses.sorted() == [200, 200, 502, 502])
    }
}
