import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// Rate limits and quotas counted in a real `redis-server`, shared by data planes.
@Suite struct RedisLimitTests {
    static let consumers: [JSONValue] = [
        [
            "id": "00000000-0000-4000-8000-0000000000c1", "name": "web-app",
            "credentials": [["id": "00000000-0000-4000-8000-0000000000d1", "type": "key-auth", "key": .string(PolicyTests.webKey)]],
        ]
    ]

    /// Data planes with their own policy state (as separate processes would have), one clock.
    /// Entities that must be the same on both carry their ids, as one snapshot would.
    func dataPlanes(
        _ count: Int, policies: [JSONValue], clock: TestWallClock, redisTimeout: TimeAmount = .seconds(10)
    ) async throws -> [ProxyHarness] {
        let upstream = try await TestUpstream.start()
        var planes: [ProxyHarness] = []
        for _ in 0..<count {
            let proxy = try await ProxyHarness.start(policies: clock.policyState(redisTimeout: redisTimeout))
            let rejection = try proxy.apply(
                version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
                routes: [["name": "api", "paths": ["/api"], "upstream": "u"]], policies: policies, consumers: Self.consumers)
            #expect(rejection == nil)
            planes.append(proxy)
        }
        return planes
    }

    @Test func twoDataPlanesSharingRedisEnforceOneLimitWithOneRoundTripEach() async throws {
        let redis = try await TestRedis.start()
        let limit: JSONValue = [
            "id": "00000000-0000-4000-8000-0000000000e2", "name": "shared", "type": "rate-limit",
            "config": ["limit": 3, "window": "1m", "by": "ip", "backend": "redis", "redis_url": .string(redis.url)],
        ]
        let planes = try await dataPlanes(2, policies: [limit], clock: TestWallClock())
        var statuses: [Int] = []
        var remaining: [String?] = []
        for index in 0..<5 {
            let response = try await httpRequest(port: planes[index % 2].port, .GET, "/api")
            statuses.append(response.status)
            remaining.append(response.header("ratelimit-remaining"))
        }
        #expect(statuses == [200, 200, 200, 429, 429])
        #expect(remaining == ["2", "1", "0", "0", "0"])
        // One script call per request, nothing else per request.
        let stats = try await redis.cli("INFO", "commandstats")
        #expect(stats.contains("cmdstat_evalsha:calls=5,"))
        #expect(!stats.contains("cmdstat_incr:calls=") || stats.contains("cmdstat_incr:calls=5,"))
    }

    @Test func anUnreachableRedisFailsOpenOrClosedAsConfigured() async throws {
        // Port 1 on loopback: nothing listens there, and no test can take it (tests bind port 0).
        let nowhere = "redis://127.0.0.1:1"
        func limit(_ url: String, failOpen: Bool) -> JSONValue {
            [
                "name": "limit", "type": "rate-limit", "route": "api",
                "config": ["limit": 5, "window": "1m", "by": "ip", "backend": "redis", "redis_url": .string(url), "fail_open": .bool(failOpen)],
            ]
        }
        // A shorter wait for Redis, so the frozen Redis below fails its request soon, yet long
        // enough for a Redis that answers to count however loaded the machine is.
        let proxy = try await dataPlanes(1, policies: [limit(nowhere, failOpen: true)], clock: TestWallClock(), redisTimeout: .seconds(2))[0]
        for _ in 0..<3 {
            let response = try await httpRequest(port: proxy.port, .GET, "/api")
            #expect(response.status == 200)
            #expect(response.header("ratelimit-limit") == nil)
        }
        let metrics = proxy.applier.policies.metrics
        #expect(metrics.prometheusText.contains("gatehouse_limit_unavailable_total{outcome=\"fail_open\"} 3\n"))
        #expect(!metrics.prometheusText.contains("gatehouse_redis_errors_total 0\n"))

        let upstream = try await TestUpstream.start()
        let upstreams: [JSONValue] = [["name": "u", "targets": [["target": .string(upstream.target)]]]]
        let routes: [JSONValue] = [["name": "api", "paths": ["/api"], "upstream": "u"]]
        try proxy.apply(version: 2, upstreams: upstreams, routes: routes, policies: [limit(nowhere, failOpen: false)])
        let refused = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(refused.status == 503)
        #expect(refused.json["error"]?["code"] == "limit_unavailable")
        #expect(metrics.prometheusText.contains("gatehouse_limit_unavailable_total{outcome=\"fail_closed\"} 1\n"))

        // A Redis that stops answering (frozen, its port still held) fails closed too, and once
        // it answers again, counting resumes after the connection's rest.
        let redis = try await TestRedis.start()
        defer { redis.resume() }
        try proxy.apply(version: 3, upstreams: upstreams, routes: routes, policies: [limit(redis.url, failOpen: false)])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").header("ratelimit-remaining") == "4")
        redis.pause()
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 503)
        redis.resume()
        try await waitUntil("the data plane to count in Redis again") {
            try await httpRequest(port: proxy.port, .GET, "/api").header("ratelimit-remaining") != nil
        }
    }

    @Test func aPasswordAndDatabaseInTheURLAreUsedAndAWrongPasswordFailsOpen() async throws {
        let redis = try await TestRedis.start(password: "s3cret")
        func limit(_ url: String) -> JSONValue {
            [
                "name": "limit", "type": "rate-limit",
                "config": ["limit": 5, "window": "1h", "by": "route", "backend": "redis", "redis_url": .string(url)],
            ]
        }
        let right = try await dataPlanes(1, policies: [limit("redis://:s3cret@127.0.0.1:\(redis.port)/3")], clock: TestWallClock())[0]
        #expect(try await httpRequest(port: right.port, .GET, "/api").header("ratelimit-remaining") == "4")
        // Counted in database 3.
        #expect(try await redis.cli("-n", "3", "DBSIZE") == "1")
        #expect(try await redis.cli("-n", "0", "DBSIZE") == "0")

        let wrong = try await dataPlanes(1, policies: [limit("redis://:nope@127.0.0.1:\(redis.port)")], clock: TestWallClock())[0]
        let answer = try await httpRequest(port: wrong.port, .GET, "/api")
        #expect(answer.status == 200)
        #expect(answer.header("ratelimit-limit") == nil)
        #expect(wrong.applier.policies.metrics.prometheusText.contains("gatehouse_limit_unavailable_total{outcome=\"fail_open\"} 1\n"))
    }

    @Test func aRedisThatStopsAnsweringTimesOutInsteadOfHoldingRequests() async throws {
        let redis = try await TestRedis.start()
        defer { redis.resume() }
        let limit: JSONValue = [
            "name": "limit", "type": "rate-limit",
            "config": ["limit": 5, "window": "1h", "by": "ip", "backend": "redis", "redis_url": .string(redis.url)],
        ]
        let proxy = try await dataPlanes(1, policies: [limit], clock: TestWallClock(), redisTimeout: .seconds(2))[0]
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").header("ratelimit-remaining") == "4")
        // The connection stays open but nothing comes back: the command times out and the
        // request goes on (fail open) rather than waiting for Redis.
        redis.pause()
        let answer = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(answer.status == 200)
        #expect(answer.header("ratelimit-limit") == nil)
        #expect(proxy.applier.policies.metrics.prometheusText.contains("gatehouse_limit_unavailable_total{outcome=\"fail_open\"} 1\n"))
    }

    @Test func aQuotaIsCountedPerConsumerAndOutlivesTheDataPlane() async throws {
        let redis = try await TestRedis.start()
        let clock = TestWallClock()
        let policies: [JSONValue] = [
            ["name": "auth", "type": "key-auth"],
            [
                "id": "00000000-0000-4000-8000-0000000000f1", "name": "daily", "type": "quota",
                "config": ["limit": 2, "period": "day", "redis_url": .string(redis.url)],
            ],
        ]
        let key = [("apikey", PolicyTests.webKey)]
        let first = try await dataPlanes(1, policies: policies, clock: clock)[0]
        let answer = try await httpRequest(port: first.port, .GET, "/api", headers: key)
        #expect(answer.status == 200)
        #expect(answer.header("x-quota-limit") == "2")
        #expect(answer.header("x-quota-remaining") == "1")
        #expect(try await httpRequest(port: first.port, .GET, "/api", headers: key).header("x-quota-remaining") == "0")
        // A data plane started afresh (no memory of its own) finds the quota used up.
        let second = try await dataPlanes(1, policies: policies, clock: clock)[0]
        let refused = try await httpRequest(port: second.port, .GET, "/api", headers: key)
        #expect(refused.status == 429)
        #expect(refused.json["error"]?["code"] == "quota_exceeded")
        #expect(refused.header("retry-after") != nil)
        // The next UTC day has a fresh quota.
        clock.advance(by: 86_400_000)
        #expect(try await httpRequest(port: second.port, .GET, "/api", headers: key).status == 200)
    }

    @Test func aRequestTheDailyQuotaRefusesDoesNotUseTheMonthlyOne() async throws {
        let redis = try await TestRedis.start()
        let quota = { (name: String, limit: Int, period: String) -> JSONValue in
            ["name": .string(name), "type": "quota", "config": ["limit": .int(limit), "period": .string(period), "redis_url": .string(redis.url)]]
        }
        // By name the month's counts first.
        let policies = [["name": "auth", "type": "key-auth"], quota("a-monthly", 100, "month"), quota("daily", 3, "day")]
        let plane = try await dataPlanes(1, policies: policies, clock: TestWallClock())[0]
        var statuses: [Int] = []
        for _ in 0..<10 { statuses.append(try await httpRequest(port: plane.port, .GET, "/api", headers: [("apikey", PolicyTests.webKey)]).status) }
        #expect(statuses == [200, 200, 200] + Array(repeating: 429, count: 7))
        // The take-backs are sent without waiting for their answers: wait for Redis to have them.
        // The day's count has every request (the refusing limit counts what it refuses); the
        // month's only the three served.
        var counts: [String] = []
        try await waitUntil("the month's count to be 3") {
            counts = []
            for key in try await redis.cli("--scan", "--pattern", "gatehouse:quota:*").split(separator: "\n") {
                counts.append(try await redis.cli("GET", String(key)))
            }
            return counts.sorted() == ["10", "3"]
        }
        #expect(counts.sorted() == ["10", "3"])
    }

    @Test func monthlyQuotaPeriodsFollowTheCalendar() throws {
        let state = TestWallClock().policyState()
        let policy = LimitPolicy(
            name: "q", kind: .quota(monthly: true), limit: 1, by: .consumer,
            counter: .local(state.localCounters("q")), failOpen: true, identity: "q", now: { 0 })
        // 2026-11-29T12:00:00Z: the period ends at 2026-12-01T00:00:00Z.
        let noon: Int64 = 1_795_953_600_000
        let (id, reset) = policy.window(at: noon)
        #expect(reset == 36 * 3_600_000)
        #expect(policy.window(at: noon + reset).id == id + 1)
        #expect(policy.window(at: noon + reset - 1).id == id)
        // Across a year end and a leap February.
        #expect(CivilDate.yearMonth(daysSinceEpoch: CivilDate.daysSinceEpoch(year: 2028, month: 2) + 28) == (2028, 2))
        #expect(CivilDate.yearMonth(daysSinceEpoch: CivilDate.daysSinceEpoch(year: 2026, month: 12) + 31) == (2027, 1))
    }
}
