import Foundation
import GatehouseModel
import GatehouseTestSupport
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import GatehouseProxy

/// An `oauth2-introspection` policy on a running proxy. The authorization server is a
/// `TestUpstream`'s `/document` (answers as set, counted, and held on request), so that each
/// call it receives can be counted and held; the test clock moves the cache's and the breaker's
/// time. (`IdentityProviderTests` runs the same policy against django-oauth-toolkit.)
@Suite struct IntrospectionProxyTests {
    struct Setup {
        let proxy: ProxyHarness
        let idp: TestUpstream
        let clock: TestWallClock
        let state: PolicyState
        var metrics: PolicyMetrics { state.metrics }
    }

    static func active(_ claims: [String: JSONValue] = [:], clock: TestWallClock) -> String {
        var answer: [String: JSONValue] = [
            "active": true, "scope": "orders:read profile", "sub": "user-9", "client_id": "shop-app", "exp": .int(Int(clock.now / 1000) + 3_600),
            "tier": .double(12.5),
        ]
        answer.merge(claims) { $1 }
        return JSONValue.object(answer).canonicalString
    }

    func start(_ config: [String: JSONValue] = [:], answer: String? = nil, idp given: TestUpstream? = nil) async throws -> Setup {
        let idp: TestUpstream
        if let given { idp = given } else { idp = try await TestUpstream.start() }
        let upstream = try await TestUpstream.start()
        let clock = TestWallClock()
        idp.setDocument(answer ?? Self.active(clock: clock))
        let state = clock.policyState()
        let proxy = try await ProxyHarness.start(policies: state)
        var fields: [String: JSONValue] = [
            "introspection_url": .string("http://127.0.0.1:\(idp.port)/document"), "client_id": "gateway", "client_secret": "s3cret:&=",
            "required_scopes": ["orders:read"], "forward_claims": ["client_id": "X-Client-Id", "tier": "X-Tier"],
        ]
        fields.merge(config) { $1 }
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/api"], "upstream": "u"]],
            policies: [["id": "00000000-0000-4000-8000-00000000f001", "name": "tokens", "type": "oauth2-introspection", "config": .object(fields)]],
            consumers: PolicyTests.consumers)
        #expect(rejection == nil)
        return Setup(proxy: proxy, idp: idp, clock: clock, state: state)
    }

    func get(_ setup: Setup, token: String?) async throws -> TestResponse {
        try await httpRequest(port: setup.proxy.port, .GET, "/api", headers: token.map { [("authorization", "Bearer " + $0)] } ?? [])
    }

    @Test func anActiveTokenPassesWithItsClaimsAndIsAskedAboutOnce() async throws {
        let setup = try await start()
        let missing = try await get(setup, token: nil)
        #expect(missing.status == 401)
        #expect(missing.header("www-authenticate") == "Bearer realm=\"gatehouse\"")
        #expect(setup.idp.documentRequests == 0)

        let passed = try await httpRequest(
            port: setup.proxy.port, .GET, "/api",
            headers: [("authorization", "Bearer tok-1/+="), ("x-client-id", "forged"), ("x-token-subject", "admin")])
        #expect(passed.status == 200)
        let seen = passed.json["headers"]
        #expect(seen?["x-token-subject"] == ["user-9"])
        #expect(seen?["x-token-scopes"] == ["orders:read profile"])
        #expect(seen?["x-client-id"] == ["shop-app"])
        #expect(seen?["x-tier"] == ["12.5"])
        #expect(seen?["authorization"] == nil)
        // RFC 7662 §2.1 as the server saw it: the token form-encoded, the client's credentials in
        // HTTP Basic, each part form-encoded first (RFC 6749 §2.3.1).
        let call = try #require(setup.idp.documentRequestsSeen.first)
        #expect(call.body == "token=tok-1%2F%2B%3D&token_type_hint=access_token")
        #expect(call.authorization == "Basic " + Data("gateway:s3cret%3A%26%3D".utf8).base64EncodedString())

        for _ in 0..<5 { #expect(try await get(setup, token: "tok-1/+=").status == 200) }
        #expect(setup.idp.documentRequests == 1)
        #expect(setup.metrics.count(PolicyMetrics.CacheResult.hit) == 5)
        // Past max_ttl (5 minutes by default) the server is asked again.
        setup.clock.advance(by: 301_000)
        #expect(try await get(setup, token: "tok-1/+=").status == 200)
        #expect(setup.idp.documentRequests == 2)
    }

    @Test func credentialsCanGoInTheBodyInstead() async throws {
        let setup = try await start(["client_auth": "body", "token_type_hint": "refresh_token"])
        #expect(try await get(setup, token: "tok-2").status == 200)
        let call = try #require(setup.idp.documentRequestsSeen.first)
        #expect(call.authorization == nil)
        #expect(call.body == "token=tok-2&token_type_hint=refresh_token&client_id=gateway&client_secret=s3cret%3A%26%3D")
    }

    @Test func anInactiveTokenIsRefusedAndRememberedForTheNegativeTTL() async throws {
        let setup = try await start(["negative_ttl": "30s"], answer: "{\"active\": false}")
        let refused = try await get(setup, token: "revoked")
        #expect(refused.status == 401)
        #expect(refused.header("www-authenticate") == "Bearer realm=\"gatehouse\", error=\"invalid_token\"")
        #expect(refused.json["error"]?["message"] == "the token is not active (revoked, expired or unknown to the authorization server)")
        #expect(try await get(setup, token: "revoked").status == 401)
        #expect(setup.idp.documentRequests == 1)
        setup.clock.advance(by: 31_000)
        setup.idp.setDocument(Self.active(clock: setup.clock))
        #expect(try await get(setup, token: "revoked").status == 200)
        #expect(setup.idp.documentRequests == 2)
    }

    @Test func anActiveAnswerIsJudgedByThePolicysRulesAndAPastExpIsInactive() async throws {
        let setup = try await start(["audiences": ["shop"]])
        let clock = setup.clock
        setup.idp.setDocument(Self.active(["aud": ["shop", "other"]], clock: clock))
        #expect(try await get(setup, token: "a").status == 200)
        setup.idp.setDocument(Self.active(["aud": "elsewhere"], clock: clock))
        #expect(try await get(setup, token: "b").json["error"]?["message"] == "the token is not for this audience")
        setup.idp.setDocument(Self.active(["aud": "shop", "scope": "profile"], clock: clock))
        #expect(try await get(setup, token: "c").json["error"]?["message"] == "the token lacks a required scope")
        setup.idp.setDocument(Self.active(["aud": "shop", "exp": .int(Int(clock.now / 1000) - 1)], clock: clock))
        #expect(try await get(setup, token: "d").status == 401)
        // Not valid yet: refused; an exp that is no NumericDate: an unusable answer (503), never a
        // token without end.
        setup.idp.setDocument(Self.active(["aud": "shop", "nbf": .int(Int(clock.now / 1000) + 60)], clock: clock))
        #expect(try await get(setup, token: "early").status == 401)
        setup.idp.setDocument(Self.active(["aud": "shop", "exp": "100"], clock: clock))
        #expect(try await get(setup, token: "odd-exp").status == 503)
        // Refusals are remembered like inactive answers: no second call for "c".
        #expect(try await get(setup, token: "c").status == 401)
        #expect(setup.idp.documentRequests == 6)
        // A token good until soon is kept only until its exp, however long max_ttl is.
        setup.idp.setDocument(Self.active(["aud": "shop", "exp": .int(Int(clock.now / 1000) + 10)], clock: clock))
        #expect(try await get(setup, token: "e").status == 200)
        clock.advance(by: 11_000)
        setup.idp.setDocument("{\"active\": false}")
        #expect(try await get(setup, token: "e").status == 401)
        #expect(setup.idp.documentRequests == 8)
    }

    @Test func concurrentRequestsWithOneNewTokenMakeOneCall() async throws {
        let setup = try await start()
        setup.idp.setHoldsDocuments(true)
        let statuses = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await get(setup, token: "fresh").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        try await waitUntil("39 requests to wait on the first one's call, and the call to arrive") {
            setup.metrics.count(PolicyMetrics.CacheResult.coalesced) == 39 && setup.idp.heldCount == 1
        }
        setup.idp.release()
        #expect(try await statuses.value == Array(repeating: 200, count: 40))
        #expect(setup.idp.documentRequests == 1)
    }

    @Test func callsInFlightAreCappedAndTheRestWaitTheirTurn() async throws {
        let setup = try await start(["max_in_flight": 2])
        setup.idp.setHoldsDocuments(true)
        let statuses = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<5 { group.addTask { try await get(setup, token: "token-\(index)").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        try await waitUntil("5 tokens to be missed") { setup.metrics.count(PolicyMetrics.CacheResult.miss) == 5 }
        try await waitUntil("2 calls to arrive") { setup.idp.heldCount == 2 }
        // The other three wait for a slot: none has reached the server.
        #expect(setup.idp.documentRequestsSeen.count == 2)
        var released = 0
        while released < 5 {
            try await waitUntil("a held call") { setup.idp.heldCount > 0 }
            released += setup.idp.heldCount
            #expect(setup.idp.heldCount <= 2)
            setup.idp.release()
        }
        #expect(try await statuses.value == Array(repeating: 200, count: 5))
        #expect(setup.idp.documentRequests == 5)
    }

    @Test func pastTheQueuesBoundANewTokenGets503AtOnce() async throws {
        // One call in flight, 64 tokens waiting for it (64 per slot): a 66th is not queued.
        let setup = try await start(["max_in_flight": 1, "timeout": "20s"])
        setup.idp.setHoldsDocuments(true)
        let statuses = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<65 { group.addTask { try await get(setup, token: "queued-\(index)").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        try await waitUntil("65 tokens to be missed, and the first call to arrive") {
            setup.metrics.count(PolicyMetrics.CacheResult.miss) == 65 && setup.idp.heldCount == 1
        }
        let turnedAway = try await get(setup, token: "one-too-many")
        #expect(turnedAway.status == 503)
        #expect(turnedAway.json["error"]?["code"] == "auth_unavailable")
        #expect(turnedAway.json["error"]?["message"] == "too many token checks are waiting for the authorization server")
        #expect(setup.idp.documentRequestsSeen.count == 1)
        setup.idp.setHoldsDocuments(false)
        setup.idp.release()
        #expect(try await statuses.value == Array(repeating: 200, count: 65))
        #expect(setup.idp.documentRequests == 65)
    }

    @Test func aCallThatTimesOutIsA503() async throws {
        let setup = try await start(["timeout": "300ms"])
        setup.idp.setHoldsDocuments(true)
        let timedOut = try await get(setup, token: "slow")
        #expect(timedOut.status == 503)
        #expect(timedOut.json["error"]?["message"] == "the authorization server cannot check the token now")
        #expect(setup.metrics.count(PolicyMetrics.CallResult.timedOut) == 1)
        setup.idp.release()
    }

    @Test func theBreakerOpensAfterFailuresAndGoodTokensKeepWorkingWhileItIs() async throws {
        let setup = try await start(["breaker_failures": 2, "breaker_cooldown": "10s", "max_ttl": "60s", "stale_if_error": "5m"])
        let (idp, clock) = (setup.idp, setup.clock)
        #expect(try await get(setup, token: "known").status == 200)
        clock.advance(by: 61_000)
        idp.setDocument("{\"error\": \"down\"}", status: 500)
        // Known: its cached answer is past max_ttl, the call fails, the last good answer serves.
        #expect(try await get(setup, token: "known").status == 200)
        #expect(setup.metrics.count(PolicyMetrics.CacheResult.stale) == 1)
        let unknown = try await get(setup, token: "new-1")
        #expect(unknown.status == 503)
        #expect(unknown.json["error"]?["code"] == "auth_unavailable")
        #expect(idp.documentRequests == 3)
        // Two failures in a row: the breaker is open, nobody calls the server.
        #expect(setup.state.prometheusText.contains("gatehouse_introspection_breaker_state{policy=\"tokens\"} 1"))
        #expect(try await get(setup, token: "new-2").status == 503)
        #expect(try await get(setup, token: "known").status == 200)
        #expect(idp.documentRequests == 3)
        // After the cool-down one call probes; it fails, and the breaker opens again.
        clock.advance(by: 10_000)
        #expect(try await get(setup, token: "new-3").status == 503)
        #expect(try await get(setup, token: "new-4").status == 503)
        #expect(idp.documentRequests == 4)
        // The server is back: the next probe succeeds and closes it.
        idp.setDocument(Self.active(clock: clock))
        clock.advance(by: 10_000)
        #expect(try await get(setup, token: "new-4").status == 200)
        #expect(try await get(setup, token: "new-5").status == 200)
        #expect(idp.documentRequests == 6)
        #expect(setup.state.prometheusText.contains("gatehouse_introspection_breaker_state{policy=\"tokens\"} 0"))
        // A stale answer never outlives the token's exp: 5 minutes of stale_if_error, 1 hour of
        // exp; past both, the known token is refused while the server fails.
        clock.advance(by: 3_600_000)
        idp.setDocument("{}", status: 500)
        #expect(try await get(setup, token: "known").status == 503)
    }

    @Test func anUnreachableServerIsA503NotA401() async throws {
        let setup = try await start(["introspection_url": "http://127.0.0.1:1/introspect", "anonymous": "guest"])
        let answer = try await get(setup, token: "any")
        #expect(answer.status == 503)
        #expect(answer.header("retry-after") == "1")
        #expect(setup.metrics.count(PolicyMetrics.CallResult.failed) == 1)
        // No token at all: the anonymous consumer.
        let anonymous = try await get(setup, token: nil)
        #expect(anonymous.status == 200)
        #expect(anonymous.json["headers"]?["x-consumer-name"] == ["guest"])
    }

    @Test func aRequestBodySentWhileTheTokenIsCheckedGoesUpstreamWhole() async throws {
        let setup = try await start()
        setup.idp.setHoldsDocuments(true)
        let body = String(repeating: "x", count: 200_000)
        async let posted = httpRequest(
            port: setup.proxy.port, .POST, "/api", headers: [("authorization", "Bearer body-token"), ("content-type", "text/plain")],
            json: .string(body))
        try await waitUntil("the call") { setup.idp.heldCount == 1 }
        setup.idp.release()
        let answer = try await posted
        #expect(answer.status == 200)
        #expect(answer.json["body_bytes"]?.intValue == JSONValue.string(body).canonicalString.utf8.count)
    }

    @Test func withRedisDataPlanesShareAnswers() async throws {
        let redis = try await TestRedis.start()
        let config: [String: JSONValue] = ["redis_url": .string(redis.url)]
        let first = try await start(config)
        // A second data plane (its own policy state, cache and breaker) of the same config.
        let second = try await start(config, idp: first.idp)
        second.clock.advance(by: first.clock.now - second.clock.now)
        #expect(try await get(first, token: "shared-token").status == 200)
        #expect(first.idp.documentRequests == 1)
        let answer = try await get(second, token: "shared-token")
        #expect(answer.status == 200)
        #expect(answer.json["headers"]?["x-token-subject"] == ["user-9"])
        #expect(first.idp.documentRequests == 1)
        #expect(second.metrics.count(PolicyMetrics.CacheResult.shared) == 1)
        // Kept in Redis no longer than here: max_ttl (5 minutes).
        let key = try await redis.cli("KEYS", "gatehouse:introspection:*")
        #expect(key.hasPrefix("gatehouse:introspection:00000000-0000-4000-8000-00000000f001:"))
        #expect((1...300_000).contains(Int(try await redis.cli("PTTL", key)) ?? 0))
        // An inactive answer is shared for the negative TTL.
        first.idp.setDocument("{\"active\": false}")
        #expect(try await get(first, token: "revoked-token").status == 401)
        #expect(try await get(second, token: "revoked-token").status == 401)
        #expect(first.idp.documentRequests == 2)
        // Redis down: each data plane asks the server itself.
        redis.stop()
        first.idp.setDocument(Self.active(clock: first.clock))
        #expect(try await get(second, token: "third-token").status == 200)
        #expect(first.idp.documentRequests == 3)
    }

    @Test func requestsPipelinedBehindOneThatWaitsAreAnsweredInOrderWithTheirBodies() async throws {
        let setup = try await start()
        setup.idp.setHoldsDocuments(true)
        let connection = try await RawConnection.open(port: setup.proxy.port)
        // Refused at once, then one that waits for its token's check, then one more behind it:
        // sent in one write, so the second's body arrives while it waits.
        try await connection.send(
            "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nfirst"
                + "POST /api HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer piped\r\nContent-Length: 10\r\n\r\n0123456789"
                + "GET /api HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        try await waitUntil("the call") { setup.idp.heldCount == 1 }
        setup.idp.release()
        let answers = await connection.receivedUntilClosed(deadline: .seconds(20))
        let starts = answers.ranges(of: "HTTP/1.1 ").map { answers[$0.upperBound...].prefix(3) }
        // The third is refused at once, but only after the second is answered.
        #expect(starts == ["401", "200", "401"])
        let bodies = answers.ranges(of: "\"body_bytes\":").map { answers[$0.upperBound...].prefix { $0.isNumber } }
        #expect(bodies == ["10"])
        #expect(setup.idp.documentRequests == 1)
    }

    @Test(arguments: [false, true])
    func aLargeBodySentWhileTheTokenIsCheckedGoesUpstreamWhole(chunked: Bool) async throws {
        // Larger than every buffer on the way (the held parts, the decoder's, the sockets'), so
        // the client is paused while the token is checked and must be read on afterwards.
        let setup = try await start()
        // An idle upstream connection to reuse: the request goes on at once when its answer
        // comes, with the body parts held meanwhile written to it (and flushed) before any more
        // are read.
        #expect(try await get(setup, token: "warm").status == 200)
        setup.idp.setHoldsDocuments(true)
        let size = 8 * 1024 * 1024
        let piece = String(repeating: "y", count: 64 * 1024)
        let connection = try await RawConnection.open(port: setup.proxy.port)
        let framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: \(size)"
        try await connection.send("POST /api HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer large\r\n\(framing)\r\nConnection: close\r\n\r\n")
        let sent = Mutex(0)
        let sending = Task {
            for _ in 0..<(size / piece.utf8.count) {
                try await connection.send(chunked ? "10000\r\n" + piece + "\r\n" : piece)
                sent.withLock { $0 += 1 }
            }
            if chunked { try await connection.send("0\r\n\r\n") }
        }
        try await waitUntil("the call, and more body than the gateway holds") { setup.idp.heldCount == 1 && sent.withLock { $0 } > 2 }
        setup.idp.release()
        try await sending.value
        let answer = await connection.receivedUntilClosed(deadline: .seconds(60))
        #expect(statusLine(answer) == "HTTP/1.1 200 OK")
        #expect(answer.contains("\"body_bytes\":\(size)"))
    }
}
