import GatehouseHTTP1
import GatehouseModel
import GatehouseTestSupport
import Logging
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// A `jwt` policy whose keys an identity provider publishes (`jwks_uri`), served by a real HTTP
/// server on loopback that counts the fetches.
@Suite struct JWKSTests {
    typealias F = JWTFixtures

    static func set(_ keys: [JSONValue]) -> String {
        String(decoding: JSONValue.object(["keys": .array(keys)]).canonicalBytes, as: UTF8.self)
    }

    static func policy(idp: TestUpstream, cooldown: String, refresh: String, keepStale: String = "1d") throws -> JWTPolicy {
        let config: JSONValue = [
            "algorithms": ["RS256"], "jwks_uri": .string("http://\(idp.target)/document"), "jwks_refetch_cooldown": .string(cooldown),
            "jwks_refresh_min": .string(refresh), "jwks_refresh_max": .string(refresh), "jwks_keep_stale": .string(keepStale),
        ]
        let normalized = try Policy.read(["name": "jwt", "type": "jwt", "config": config], id: "x").config
        return try JWTPolicy(
            name: "jwt", config: normalized, consumers: ConsumerDirectory([]), cache: TokenCache(capacity: 100),
            jwks: JWKSSource(JWKSSource.Settings(normalized), logger: Logger(label: "test")), metrics: PolicyMetrics(), now: { F.now * 1000 })
    }

    func refusal(_ token: String, _ policy: JWTPolicy) -> TokenRefusal? {
        let headers: RequestFields = ["authorization": "Bearer " + token]
        if case .refused(let why) = policy.authenticate(headers: headers, query: nil) { return why }
        return nil
    }

    static func token(kid: String, key: JWTFixtures.RSAKey = F.rsa, _ changes: [String: JSONValue?] = [:]) -> String {
        F.token(header: #"{"alg":"RS256","kid":"\#(kid)"}"#, payload: F.claims(changes)) { F.rs256($0, key: key) }
    }

    @Test func publishedKeysAreFollowedThroughARotationAndRemovedOnesStopBeingTrusted() async throws {
        let idp = try await TestUpstream.start()
        idp.setDocument(Self.set([F.rsaJWK(kid: "one")]), headers: [("Cache-Control", "public, max-age=1")])
        let policy = try Self.policy(idp: idp, cooldown: "1s", refresh: "1s")
        try await waitUntil("the first fetch") { refusal(Self.token(kid: "one"), policy) == nil }
        // The provider publishes the next key before signing with it: once fetched, its first
        // token passes.
        idp.setDocument(Self.set([F.rsaJWK(kid: "one"), F.rsaJWK(F.otherRSA, kid: "two")]), headers: [("Cache-Control", "max-age=1")])
        let fetched = idp.documentRequests
        try await waitUntil("a scheduled fetch") { idp.documentRequests >= fetched + 2 }
        #expect(refusal(Self.token(kid: "two", key: F.otherRSA), policy) == nil)
        // Then withdraws the old one: its tokens, cached ones too, are refused after the next fetch.
        let cachedOld = Self.token(kid: "one", ["jti": "cached"])
        #expect(refusal(cachedOld, policy) == nil)
        idp.setDocument(Self.set([F.rsaJWK(F.otherRSA, kid: "two")]), headers: [("Cache-Control", "max-age=1")])
        try await waitUntil("the old key to be gone") { refusal(cachedOld, policy) == .unknownKey }
        #expect(refusal(Self.token(kid: "one"), policy) == .unknownKey)
        #expect(refusal(Self.token(kid: "two", key: F.otherRSA), policy) == nil)
    }

    @Test func aFloodOfUnknownKidsMakesOneFetchPerCooldown() async throws {
        let idp = try await TestUpstream.start()
        idp.setDocument(Self.set([F.rsaJWK(kid: "one")]))
        let policy = try Self.policy(idp: idp, cooldown: "1h", refresh: "1h")
        try await waitUntil("the first fetch") { refusal(Self.token(kid: "one"), policy) == nil }
        #expect(idp.documentRequests == 1)
        for index in 0..<1_000 {
            #expect(refusal(Self.token(kid: "random-\(index)"), policy) == .unknownKey)
            // The first unknown kid came within the cool-down of the first fetch: no refetch.
            #expect(policy.jwks?.refetch({}) == false)
        }
        #expect(policy.jwks?.fetchDue == false)
        #expect(idp.documentRequests == 1)
    }

    @Test func aRedirectIsAFailedFetchNotAnotherSet() async throws {
        let idp = try await TestUpstream.start()
        idp.setDocument("", status: 302, headers: [("Location", "http://\(idp.target)/status/200")])
        let policy = try Self.policy(idp: idp, cooldown: "1s", refresh: "1s")
        try await waitUntil("a fetch") { idp.documentRequests >= 2 }
        #expect(refusal(Self.token(kid: "one"), policy) == .unknownKey)
    }

    @Test func pastKeepStaleCachedTokensOfPublishedKeysAreRefusedToo() async throws {
        let idp = try await TestUpstream.start()
        idp.setDocument(Self.set([F.rsaJWK(kid: "one")]))
        let policy = try Self.policy(idp: idp, cooldown: "1s", refresh: "1s", keepStale: "0s")
        let cached = Self.token(kid: "one", ["jti": "cached"])
        try await waitUntil("the first fetch") { refusal(cached, policy) == nil }
        idp.setDocument("oops", status: 500)
        try await waitUntil("the set to go stale") { refusal(Self.token(kid: "one", ["jti": "fresh"]), policy) == .unknownKey }
        #expect(refusal(cached, policy) == .unknownKey)
    }

    @Test func whileTheProviderFailsTheLastGoodKeysStayInUse() async throws {
        let idp = try await TestUpstream.start()
        idp.setDocument(Self.set([F.rsaJWK(kid: "one")]))
        let policy = try Self.policy(idp: idp, cooldown: "1s", refresh: "1s")
        try await waitUntil("the first fetch") { refusal(Self.token(kid: "one"), policy) == nil }
        for failure in [(500, "oops"), (200, "not json"), (200, #"{"keys": "none"}"#)] {
            idp.setDocument(failure.1, status: failure.0)
            let before = idp.documentRequests
            try await waitUntil("a failed fetch") { idp.documentRequests > before + 1 }
            #expect(refusal(Self.token(kid: "one", ["jti": .string("after \(failure)")]), policy) == nil)
        }
        // Keys it cannot use are skipped, not fatal: the usable one is still taken.
        var privateKey = F.rsaJWK(kid: "bad").objectValue!
        privateKey["d"] = "AAAA"
        idp.setDocument(Self.set([.object(privateKey), ["kty": "oct", "k": "c2VjcmV0", "alg": "HS256"], F.rsaJWK(F.otherRSA, kid: "two")]))
        try await waitUntil("the new set") { refusal(Self.token(kid: "two", key: F.otherRSA), policy) == nil }
        #expect(refusal(Self.token(kid: "bad"), policy) == .unknownKey)
    }

    @Test func aTokenOfAKeyPublishedAMomentAgoWaitsForTheRefetchAndPasses() async throws {
        // The provider signs with a new key as soon as it publishes it: the request that brings
        // its first token waits for the set to be fetched again instead of failing.
        let idp = try await TestUpstream.start()
        let upstream = try await TestUpstream.start()
        idp.setDocument(Self.set([F.rsaJWK(kid: "one")]))
        let clock = TestWallClock()
        clock.advance(by: F.now * 1000 - clock.now)
        let proxy = try await ProxyHarness.start(policies: clock.policyState())
        let config: JSONValue = [
            "algorithms": ["RS256"], "jwks_uri": .string("http://\(idp.target)/document"), "jwks_refetch_cooldown": "1s",
            "jwks_refresh_min": "1h", "jwks_refresh_max": "1h",
        ]
        #expect(
            try proxy.apply(
                version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
                routes: [["name": "api", "paths": ["/api"], "upstream": "u"]], policies: [["name": "jwt", "type": "jwt", "config": config]])
                == nil)
        func get(_ token: String) async throws -> Int {
            try await httpRequest(port: proxy.port, .GET, "/api", headers: [("authorization", "Bearer " + token)]).status
        }
        // The first request may come before the first fetch ends: it waits for that one.
        #expect(try await get(Self.token(kid: "one")) == 200)
        idp.setDocument(Self.set([F.rsaJWK(kid: "one"), F.rsaJWK(F.otherRSA, kid: "two")]))
        let source = try #require(proxy.active.load()?.routes.all.first?.policies?.jwt?.jwks)
        try await waitUntil("the cool-down after the first fetch") { source.fetchDue == false && source.refetchAllowed }
        #expect(try await get(Self.token(kid: "two", key: F.otherRSA)) == 200)
        #expect(idp.documentRequests == 2)
        // A kid the new set lacks too is refused once that one fetch is done (within the cool-down
        // it makes none: aFloodOfUnknownKidsMakesOneFetchPerCooldown).
        #expect(try await get(Self.token(kid: "three", key: F.otherRSA)) == 401)
    }
}
