import Foundation
import GatehouseModel
import GatehouseTestSupport
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import GatehouseProxy

/// A wall clock tests move by hand, so rate-limit windows never roll over by chance.
final class TestWallClock: Sendable {
    private let milliseconds = Mutex<Int64>(1_800_000_000_000)
    var now: Int64 { milliseconds.withLock { $0 } }
    func advance(by delta: Int64) { milliseconds.withLock { $0 += delta } }
    /// - Parameter redisTimeout: generous by default: a Redis that answers must count, however
    ///   loaded the machine is while the whole suite runs.
    func policyState(redisTimeout: TimeAmount = .seconds(10)) -> PolicyState {
        PolicyState(logger: Logger(label: "test"), redisTimeout: redisTimeout) { [self] in now }
    }
}

/// The policy pipeline on the data plane, against real upstreams over loopback sockets.
@Suite struct PolicyTests {
    static let webKey = "web-app-key-0123456789"
    static let partnerKey = "partner-key-0123456789"
    static let consumers: [JSONValue] = [
        [
            "id": "00000000-0000-4000-8000-0000000000c1", "name": "web-app", "custom_id": "w-1",
            "credentials": [["id": "00000000-0000-4000-8000-0000000000d1", "type": "key-auth", "key": .string(webKey)]],
        ],
        [
            "id": "00000000-0000-4000-8000-0000000000c2", "name": "partner",
            "credentials": [["id": "00000000-0000-4000-8000-0000000000d2", "type": "key-auth", "key": .string(partnerKey)]],
        ],
        ["id": "00000000-0000-4000-8000-0000000000c3", "name": "guest"],
    ]
    static let cors: JSONValue = [
        "name": "cors-web", "type": "cors",
        "config": [
            "allow_origins": ["https://www.example.com", "https://*.example.org"], "allow_methods": ["GET", "POST", "PUT"],
            "allow_headers": ["apikey", "content-type"], "expose_headers": ["ratelimit-remaining"], "allow_credentials": true, "max_age": 300,
        ],
    ]
    static let keyAuth: JSONValue = ["name": "auth", "type": "key-auth"]

    func proxy(policies: [JSONValue], clock: TestWallClock = TestWallClock(), routePath: String = "/api") async throws -> (ProxyHarness, TestUpstream)
    {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start(policies: clock.policyState())
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": [.string(routePath)], "upstream": "u"]], policies: policies, consumers: Self.consumers)
        #expect(rejection == nil)
        return (proxy, upstream)
    }

    @Test func preflightOnAKeyAuthRouteIsAnsweredWithoutAKey() async throws {
        let (proxy, _) = try await proxy(policies: [Self.cors, Self.keyAuth])
        let response = try await httpRequest(
            port: proxy.port, .OPTIONS, "/api/items",
            headers: [
                ("Origin", "https://www.example.com"), ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "apikey, content-type"),
            ])
        #expect(response.status == 204)
        #expect(response.header("access-control-allow-origin") == "https://www.example.com")
        #expect(response.header("access-control-allow-credentials") == "true")
        #expect(response.header("access-control-allow-methods") == "GET, POST, PUT")
        #expect(response.header("access-control-allow-headers") == "apikey, content-type")
        #expect(response.header("access-control-max-age") == "300")
        #expect(response.header("vary")?.contains("Origin") == true)
        #expect(response.header("x-upstream") == nil)
        // A wildcard pattern allows subdomains, not the bare domain or look-alikes.
        for (origin, allowed) in [
            ("https://a.example.org", true), ("https://a.b.example.org", true), ("https://example.org", false),
            ("https://evilexample.org", false), ("http://a.example.org", false), ("https://a.example.org:8443", false),
        ] {
            let answer = try await httpRequest(
                port: proxy.port, .OPTIONS, "/api", headers: [("Origin", origin), ("Access-Control-Request-Method", "GET")])
            #expect((answer.header("access-control-allow-origin") == origin) == allowed, "\(origin)")
        }
    }

    @Test func aDisallowedOriginGetsNoCORSHeaders() async throws {
        let (proxy, _) = try await proxy(policies: [Self.cors, Self.keyAuth])
        let preflight = try await httpRequest(
            port: proxy.port, .OPTIONS, "/api", headers: [("Origin", "https://evil.example.net"), ("Access-Control-Request-Method", "PUT")])
        #expect(preflight.status == 204)
        #expect(preflight.headers.allSatisfy { !$0.name.lowercased().hasPrefix("access-control-") })
        #expect(preflight.header("vary")?.contains("Origin") == true)
        let actual = try await httpRequest(
            port: proxy.port, .GET, "/cors/api", headers: [("Origin", "https://evil.example.net"), ("apikey", Self.webKey)])
        #expect(actual.status == 404)
        let routed = try await httpRequest(
            port: proxy.port, .GET, "/api", headers: [("Origin", "https://evil.example.net"), ("apikey", Self.webKey)])
        #expect(routed.status == 200)
        #expect(routed.headers.allSatisfy { !$0.name.lowercased().hasPrefix("access-control-") })
        #expect(routed.header("vary") == "Origin")
    }

    @Test func theRoutesCORSReplacesTheUpstreamsOwn() async throws {
        let (proxy, _) = try await proxy(policies: [Self.cors], routePath: "/cors")
        let allowed = try await httpRequest(port: proxy.port, .GET, "/cors", headers: [("Origin", "https://www.example.com")])
        #expect(allowed.headers["access-control-allow-origin"] == ["https://www.example.com"])
        #expect(allowed.header("access-control-expose-headers") == "ratelimit-remaining")
        let refused = try await httpRequest(port: proxy.port, .GET, "/cors", headers: [("Origin", "https://evil.example.net")])
        #expect(refused.headers["access-control-allow-origin"].isEmpty)
    }

    @Test func missingWrongAndRightKeysGive401401And200WithTheConsumerForwarded() async throws {
        let (proxy, _) = try await proxy(policies: [Self.cors, Self.keyAuth])
        let missing = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("Origin", "https://www.example.com")])
        #expect(missing.status == 401)
        #expect(missing.header("www-authenticate") == "Key realm=\"gatehouse\"")
        #expect(missing.json["error"]?["code"] == "unauthorized")
        // The browser may read the 401: it carries the CORS headers.
        #expect(missing.header("access-control-allow-origin") == "https://www.example.com")

        let wrong = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", "not-a-key-0123456789")])
        #expect(wrong.status == 401)
        #expect(wrong.header("www-authenticate") != nil)

        let right = try await httpRequest(
            port: proxy.port, .GET, "/api/x", headers: [("apikey", Self.webKey), ("X-Consumer-Name", "admin"), ("X-Anonymous-Consumer", "false")])
        #expect(right.status == 200)
        let seen = try #require(right.json["headers"])
        #expect(seen["x-consumer-name"] == ["web-app"])
        #expect(seen["x-consumer-id"] == ["00000000-0000-4000-8000-0000000000c1"])
        #expect(seen["x-consumer-custom-id"] == ["w-1"])
        #expect(seen["x-anonymous-consumer"] == nil)
        #expect(seen["apikey"] == nil)

        let inQuery = try await httpRequest(port: proxy.port, .GET, "/api/x?a=1&apikey=\(Self.partnerKey)&b=2")
        #expect(inQuery.status == 200)
        #expect(inQuery.json["uri"] == "/api/x?a=1&b=2")
        #expect(inQuery.json["headers"]?["x-consumer-name"] == ["partner"])
    }

    @Test func credentialsAreKeptWhenHideCredentialsIsOffAndAnonymousConsumersPass() async throws {
        let auth: JSONValue = [
            "name": "auth", "type": "key-auth", "config": ["key_names": ["X-API-Key"], "hide_credentials": false, "anonymous": "guest"],
        ]
        let (proxy, _) = try await proxy(policies: [auth])
        let keyed = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("X-API-Key", Self.webKey)])
        #expect(keyed.json["headers"]?["x-api-key"] == .array([.string(Self.webKey)]))
        #expect(keyed.json["headers"]?["x-consumer-name"] == ["web-app"])
        let anonymous = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("X-API-Key", "wrong-key-0123456789")])
        #expect(anonymous.status == 200)
        #expect(anonymous.json["headers"]?["x-consumer-name"] == ["guest"])
        #expect(anonymous.json["headers"]?["x-anonymous-consumer"] == ["true"])
    }

    @Test func aLocalRateLimitRefusesWithRetryAfterPerConsumer() async throws {
        let clock = TestWallClock()
        let limit: JSONValue = ["name": "limit", "type": "rate-limit", "config": ["limit": 2, "window": "1m"]]
        let (proxy, _) = try await proxy(policies: [Self.keyAuth, limit], clock: clock)
        let web = [("apikey", Self.webKey)]
        let first = try await httpRequest(port: proxy.port, .GET, "/api", headers: web)
        #expect(first.status == 200)
        #expect(first.header("ratelimit-limit") == "2")
        #expect(first.header("ratelimit-remaining") == "1")
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: web).header("ratelimit-remaining") == "0")
        let refused = try await httpRequest(port: proxy.port, .GET, "/api", headers: web)
        #expect(refused.status == 429)
        #expect(refused.json["error"]?["code"] == "rate_limited")
        let retryAfter = try #require(refused.header("retry-after").flatMap(Int.init))
        #expect((1...60).contains(retryAfter))
        #expect(refused.header("ratelimit-reset") == String(retryAfter))
        // Another consumer has its own count.
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.partnerKey)]).status == 200)
        // The next window starts afresh.
        clock.advance(by: 60_000)
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: web).status == 200)
    }

    @Test func limitsOfOneTypeStackAndTheClientHearsOfTheClosestToRefusing() async throws {
        let clock = TestWallClock()
        // A burst limit and a longer one on the route, and a global one the route's replace.
        let policies: [JSONValue] = [
            ["name": "burst", "type": "rate-limit", "route": "api", "config": ["limit": 3, "window": "1s"]],
            ["name": "sustained", "type": "rate-limit", "route": "api", "config": ["limit": 4, "window": "1m"]],
            ["name": "everywhere", "type": "rate-limit", "config": ["limit": 1, "window": "1h"]],
        ]
        let (proxy, _) = try await proxy(policies: policies, clock: clock)
        var remaining: [String] = []
        for _ in 0..<3 {
            let response = try await httpRequest(port: proxy.port, .GET, "/api")
            #expect(response.status == 200)
            // One set of RateLimit fields, of the limit with the fewest requests left.
            #expect(response.headers["ratelimit-limit"].count == 1)
            remaining.append(response.headers["ratelimit-limit"].first! + "/" + (response.header("ratelimit-remaining") ?? ""))
        }
        #expect(remaining == ["3/2", "3/1", "3/0"])
        let burst = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(burst.status == 429)
        #expect(burst.headers["ratelimit-limit"] == ["3"])
        #expect(burst.json["error"]?["message"].flatMap(\.stringValue)?.contains("3 requests per 1s") == true)
        // The next second the burst limit has room again; the minute's has one request left.
        clock.advance(by: 1_000)
        let fourth = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(fourth.status == 200)
        #expect(fourth.headers["ratelimit-limit"] == ["4"])
        #expect(fourth.header("ratelimit-remaining") == "0")
        let sustained = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(sustained.status == 429)
        #expect(sustained.headers["ratelimit-limit"] == ["4"])
        #expect(sustained.json["error"]?["message"].flatMap(\.stringValue)?.contains("4 requests per 1m") == true)
    }

    @Test func aRequestOneLimitRefusesCountsInNoneOfTheOthers() async throws {
        let clock = TestWallClock()
        // By name, the hour's limit counts first: a refused burst must not use it up.
        let policies: [JSONValue] = [
            ["name": "per-hour", "type": "rate-limit", "route": "api", "config": ["limit": 10, "window": "1h", "by": "ip"]],
            ["name": "per-second", "type": "rate-limit", "route": "api", "config": ["limit": 2, "window": "1s", "by": "ip"]],
        ]
        let (proxy, _) = try await proxy(policies: policies, clock: clock)
        var served = 0
        for _ in 0..<30 where try await httpRequest(port: proxy.port, .GET, "/api").status == 200 { served += 1 }
        #expect(served == 2)
        // Four more seconds of two requests each: the hour's ten, all served.
        for _ in 0..<4 {
            clock.advance(by: 1_000)
            for _ in 0..<2 { #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 200) }
        }
        clock.advance(by: 1_000)
        let hour = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(hour.status == 429)
        #expect(hour.json["error"]?["message"] == "more than 10 requests per 1h")
    }

    @Test func theUpstreamsOwnLimitFieldsAreDroppedOnARouteWithLimits() async throws {
        let limit: JSONValue = ["name": "limit", "type": "rate-limit", "config": ["limit": 3, "window": "1m", "by": "ip"]]
        let (proxy, upstream) = try await proxy(policies: [limit], routePath: "/document")
        upstream.setDocument("{}", headers: [("RateLimit-Limit", "999"), ("X-RateLimit-Remaining", "5"), ("X-Quota-Limit", "1"), ("X-Other", "kept")])
        let response = try await httpRequest(port: proxy.port, .GET, "/document")
        #expect(response.status == 200)
        #expect(response.headers["ratelimit-limit"] == ["3"])
        #expect(response.headers["x-ratelimit-remaining"].isEmpty)
        #expect(response.headers["x-quota-limit"].isEmpty)
        #expect(response.headers["x-other"] == ["kept"])
    }

    @Test func countersSurviveASwapWhenThePolicyIsUnchanged() async throws {
        let clock = TestWallClock()
        let limit: JSONValue = [
            "id": "00000000-0000-4000-8000-0000000000e1", "name": "limit", "type": "rate-limit", "config": ["limit": 3, "window": "1h", "by": "ip"],
        ]
        let (proxy, upstream) = try await proxy(policies: [limit], clock: clock)
        for _ in 0..<2 { #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 200) }
        let upstreams: [JSONValue] = [["name": "u", "targets": [["target": .string(upstream.target)]]]]
        // Version 2 changes another route only: the count carries on.
        try proxy.apply(
            version: 2, upstreams: upstreams,
            routes: [["name": "api", "paths": ["/api"], "upstream": "u"], ["name": "new", "paths": ["/new"], "upstream": "u"]],
            policies: [limit])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").header("ratelimit-remaining") == "0")
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 429)
        // Version 3 changes the policy: it counts afresh.
        var changed = limit.objectValue!
        changed["config"] = ["limit": 4, "window": "1h", "by": "ip"]
        try proxy.apply(
            version: 3, upstreams: upstreams, routes: [["name": "api", "paths": ["/api"], "upstream": "u"]], policies: [.object(changed)])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").header("ratelimit-remaining") == "3")
    }

    @Test func limitsCountByHeaderOrByRoute() async throws {
        let byHeader: JSONValue = [
            "name": "per-tenant", "type": "rate-limit", "config": ["limit": 1, "window": "1m", "by": "header", "header_name": "X-Tenant"],
        ]
        let (proxy, _) = try await proxy(policies: [byHeader])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("X-Tenant", "a")]).status == 200)
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("X-Tenant", "a")]).status == 429)
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("X-Tenant", "b")]).status == 200)
        // Without the header, the client IP is counted.
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 200)
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 429)

        let byRoute: JSONValue = ["name": "per-route", "type": "rate-limit", "config": ["limit": 2, "window": "1m", "by": "route"]]
        let (shared, _) = try await self.proxy(policies: [PolicyTests.keyAuth, byRoute])
        // Every caller shares the route's one count.
        #expect(try await httpRequest(port: shared.port, .GET, "/api", headers: [("apikey", Self.webKey)]).status == 200)
        #expect(try await httpRequest(port: shared.port, .GET, "/api", headers: [("apikey", Self.partnerKey)]).status == 200)
        #expect(try await httpRequest(port: shared.port, .GET, "/api", headers: [("apikey", Self.webKey)]).status == 429)
    }

    @Test func anyOriginWithoutCredentialsAnswersAStarAndDoesNotVary() async throws {
        let cors: JSONValue = ["name": "open", "type": "cors", "config": ["allow_origins": ["*"]]]
        let (proxy, _) = try await proxy(policies: [cors])
        let actual = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("Origin", "https://anyone.example")])
        #expect(actual.header("access-control-allow-origin") == "*")
        #expect(actual.header("vary") == nil)
        let preflight = try await httpRequest(
            port: proxy.port, .OPTIONS, "/api", headers: [("Origin", "https://anyone.example"), ("Access-Control-Request-Method", "POST")])
        #expect(preflight.status == 204)
        #expect(preflight.header("access-control-allow-origin") == "*")
        #expect(preflight.header("vary")?.contains("Origin") == false)
    }

    @Test func aConsumerScopedLimitOverridesTheGlobalOne() async throws {
        let policies: [JSONValue] = [
            Self.keyAuth,
            ["name": "everyone", "type": "rate-limit", "config": ["limit": 1, "window": "1m"]],
            ["name": "partner-limit", "type": "rate-limit", "consumer": "partner", "config": ["limit": 3, "window": "1m"]],
        ]
        let (proxy, _) = try await proxy(policies: policies)
        var partnerStatuses: [Int] = []
        var webStatuses: [Int] = []
        for _ in 0..<4 {
            partnerStatuses.append(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.partnerKey)]).status)
            webStatuses.append(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.webKey)]).status)
        }
        #expect(partnerStatuses == [200, 200, 200, 429])
        #expect(webStatuses == [200, 429, 429, 429])
    }

    @Test func aRouteScopedPolicyOverridesTheGlobalOneOfItsType() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start(policies: TestWallClock().policyState())
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "open", "paths": ["/open"], "upstream": "u"], ["name": "strict", "paths": ["/strict"], "upstream": "u"]],
            policies: [
                ["name": "global", "type": "rate-limit", "config": ["limit": 100, "window": "1m", "by": "ip"]],
                ["name": "strict-limit", "type": "rate-limit", "route": "strict", "config": ["limit": 1, "window": "1m", "by": "ip"]],
            ])
        #expect(try await httpRequest(port: proxy.port, .GET, "/open").header("ratelimit-limit") == "100")
        #expect(try await httpRequest(port: proxy.port, .GET, "/strict").header("ratelimit-limit") == "1")
        #expect(try await httpRequest(port: proxy.port, .GET, "/strict").status == 429)
        #expect(try await httpRequest(port: proxy.port, .GET, "/open").status == 200)
    }
}
