import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The token policies against a real identity provider the test starts: django-oauth-toolkit
/// on SQLite (`Tests/Fixtures/idp/idp.py`), with client-credentials grants, an RFC 7662
/// introspection endpoint that counts its calls, RFC 7009 revocation, and JWT access tokens
/// signed with keys it publishes as a JWKS. The proxy's clock is the test's, set to the real
/// time the provider's `exp` values use, and moved to pass cache lifetimes without waiting.
@Suite struct IdentityProviderTests {
    struct Setup {
        let idp: TestIdP
        let proxy: ProxyHarness
        let upstream: TestUpstream
        let clock: TestWallClock
        let state: PolicyState

        func get(_ token: String) async throws -> TestResponse {
            try await httpRequest(port: proxy.port, .GET, "/api", headers: [("authorization", "Bearer " + token)])
        }
    }

    func start(_ policy: (TestIdP) -> JSONValue) async throws -> Setup {
        let idp = try await TestIdP.start()
        let upstream = try await TestUpstream.start()
        let clock = TestWallClock()
        clock.advance(by: Int64(Date().timeIntervalSince1970 * 1000) - clock.now)
        let state = clock.policyState()
        let proxy = try await ProxyHarness.start(policies: state)
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/api"], "upstream": "u"]], policies: [policy(idp)])
        #expect(rejection == nil)
        return Setup(idp: idp, proxy: proxy, upstream: upstream, clock: clock, state: state)
    }

    static func introspection(_ idp: TestIdP, _ config: [String: JSONValue] = [:]) -> JSONValue {
        var fields: [String: JSONValue] = [
            "introspection_url": .string(idp.introspectionURL), "client_id": .string(idp.resourceID), "client_secret": .string(idp.resourceSecret),
            "max_ttl": "30s", "negative_ttl": "10s", "required_scopes": ["orders:read"], "forward_claims": ["client_id": "X-Client-Id"],
            "timeout": "5s",
        ]
        fields.merge(config) { $1 }
        return ["name": "introspect", "type": "oauth2-introspection", "config": .object(fields)]
    }

    @Test func grantedTokensPassWithTheirClaimsAndARevokedOneStopsOnceItsAnswerExpires() async throws {
        let setup = try await start { Self.introspection($0) }
        let (idp, clock) = (setup.idp, setup.clock)
        let token = try await idp.issueToken(scope: "orders:read profile")
        let passed = try await setup.get(token)
        #expect(passed.status == 200)
        #expect(passed.json["headers"]?["x-token-scopes"] == ["orders:read profile"])
        #expect(passed.json["headers"]?["x-client-id"] == [.string(idp.clientID)])
        #expect(passed.json["headers"]?["authorization"] == nil)
        for _ in 0..<10 { #expect(try await setup.get(token).status == 200) }
        #expect(try await idp.introspectionCount() == 1)

        let narrow = try await idp.issueToken(scope: "profile")
        #expect(try await setup.get(narrow).json["error"]?["message"] == "the token lacks a required scope")

        // Revoked: it works until its cached answer is past max_ttl, then the provider says
        // inactive, and that answer is kept for the negative TTL.
        try await idp.revoke(token)
        #expect(try await setup.get(token).status == 200)
        clock.advance(by: 31_000)
        let revoked = try await setup.get(token)
        #expect(revoked.status == 401)
        #expect(revoked.json["error"]?["message"] == "the token is not active (revoked, expired or unknown to the authorization server)")
        #expect(try await setup.get(token).status == 401)
        #expect(try await idp.introspectionCount() == 3)
        clock.advance(by: 11_000)
        #expect(try await setup.get(token).status == 401)
        #expect(try await idp.introspectionCount() == 4)
    }

    @Test func manyConcurrentRequestsWithOneNewTokenMakeOneCall() async throws {
        let setup = try await start { Self.introspection($0) }
        let token = try await setup.idp.issueToken(scope: "orders:read")
        // The provider answers slowly, so every request arrives while the one call is out.
        try await setup.idp.setDelay(milliseconds: 1_000)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<300 { group.addTask { try await setup.get(token).status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 300))
        #expect(try await setup.idp.introspectionCount() == 1)
        #expect(setup.state.metrics.count(PolicyMetrics.CacheResult.miss) == 1)
    }

    @Test func aFloodOfRequestsWith200TokensMakesOneCallPerToken() async throws {
        let setup = try await start { Self.introspection($0) }
        let tokens = try await setup.idp.mintTokens(200, scope: "orders:read")
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for worker in 0..<20 {
                group.addTask {
                    var seen: [Int] = []
                    for index in 0..<150 { seen.append(try await setup.get(tokens[(worker * 37 + index * 11) % 200]).status) }
                    return seen
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(statuses.count == 3_000)
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(try await setup.idp.introspectionCount() == 200)
    }

    @Test func withTheProviderDownKnownTokensKeepWorkingAndNewOnesGet503() async throws {
        let setup = try await start { Self.introspection($0, ["timeout": "1s", "stale_if_error": "10m", "breaker_failures": 3]) }
        let tokens = try await setup.idp.mintTokens(5, scope: "orders:read")
        for token in tokens { #expect(try await setup.get(token).status == 200) }
        let unknown = try await setup.idp.mintTokens(5, scope: "orders:read")
        setup.idp.stop()
        setup.clock.advance(by: 31_000)
        for token in tokens { #expect(try await setup.get(token).status == 200) }
        for token in unknown {
            let refused = try await setup.get(token)
            #expect(refused.status == 503)
            #expect(refused.json["error"]?["code"] == "auth_unavailable")
        }
        #expect(setup.state.metrics.count(PolicyMetrics.CacheResult.stale) == 5)
        #expect(setup.state.prometheusText.contains("gatehouse_introspection_breaker_state{policy=\"introspect\"} 1"))
    }

    @Test func theProvidersKeyRotationIsFollowedWithoutAFailedRequest() async throws {
        let setup = try await start { idp in
            [
                "name": "jwt", "type": "jwt",
                "config": [
                    "algorithms": ["RS256"], "jwks_uri": .string(idp.jwksURL), "issuers": [.string(idp.issuer)], "required_type": "at+jwt",
                    "jwks_refetch_cooldown": "1s", "jwks_refresh_min": "1s", "jwks_refresh_max": "1s",
                ],
            ]
        }
        let idp = setup.idp
        let source = try #require(setup.proxy.active.load()?.routes.all.first?.policies?.jwt?.jwks)
        func passes(_ subject: String) async throws -> Bool {
            let token = try await idp.mintJWT(["sub": .string(subject), "iat": .int(Int(setup.clock.now / 1000))])
            let answer = try await setup.get(token)
            #expect(answer.status == 200)
            return answer.json["headers"]?["x-token-subject"] == [.string(subject)]
        }
        #expect(try await passes("first"))
        let old = try await idp.mintJWT(["sub": "old"])
        // A new key signs from now on; the gateway has not seen it, and its first token waits
        // for the set to be fetched again.
        try await idp.rotateKeys(dropOld: false)
        try await waitUntil("the cool-down") { source.refetchAllowed }
        #expect(try await passes("second"))
        // Then every older key is withdrawn: their tokens are refused once the set is fetched
        // again; the newest key's are never refused.
        try await idp.rotateKeys(dropOld: true)
        try await waitUntil("the cool-down") { source.refetchAllowed }
        #expect(try await passes("third"))
        try await waitUntil("the withdrawn key to be refused") { try await setup.get(old).status == 401 }
        #expect(try await passes("fourth"))
    }
}
