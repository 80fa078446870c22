import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// A `jwt` policy on a route of a running proxy, against a real upstream over loopback.
@Suite struct JWTProxyTests {
    typealias F = JWTFixtures

    func proxy(_ policies: [JSONValue]) async throws -> ProxyHarness {
        let upstream = try await TestUpstream.start()
        let clock = TestWallClock()
        clock.advance(by: F.now * 1000 - clock.now)
        let proxy = try await ProxyHarness.start(policies: clock.policyState())
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/api"], "upstream": "u"]], policies: policies, consumers: PolicyTests.consumers)
        #expect(rejection == nil)
        return proxy
    }

    static let jwt: JWTValueBox = JWTValueBox([
        "name": "tokens", "type": "jwt",
        "config": F.baseConfig.merging(patch: ["forward_claims": ["tier": "X-User-Tier", "note": "X-Note"]]),
    ])

    @Test func aValidTokenReachesTheUpstreamAsItsClaimsAndNothingElse() async throws {
        let proxy = try await proxy([Self.jwt.value])
        let missing = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(missing.status == 401)
        #expect(missing.header("www-authenticate") == "Bearer realm=\"gatehouse\"")
        let forged = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("authorization", "Bearer " + F.rsaToken(["iss": "https://evil.test"]))])
        #expect(forged.status == 401)
        #expect(forged.header("www-authenticate") == "Bearer realm=\"gatehouse\", error=\"invalid_token\"")
        #expect(forged.json["error"]?["message"] == "the token's issuer is not accepted")

        let token = F.rsaToken(["tier": "gold", "note": "line\r\nX-Injected: 1"])
        let passed = try await httpRequest(
            port: proxy.port, .GET, "/api",
            headers: [("authorization", "Bearer " + token), ("x-token-subject", "admin"), ("x-user-tier", "platinum"), ("x-consumer-name", "web-app")])
        #expect(passed.status == 200)
        let seen = passed.json["headers"]
        #expect(seen?["x-token-subject"] == ["user-42"])
        #expect(seen?["x-token-scopes"] == ["recipes:read profile"])
        #expect(seen?["x-user-tier"] == ["gold"])
        #expect(seen?["x-note"] == nil)
        #expect(seen?["x-injected"] == nil)
        #expect(seen?["authorization"] == nil)
        #expect(seen?["x-consumer-name"] == nil)
    }

    @Test func withKeyAuthBesideItEitherCredentialSuffices() async throws {
        let proxy = try await proxy([Self.jwt.value, PolicyTests.keyAuth])
        let token = ("authorization", "Bearer " + F.rsaToken())
        let key = ("apikey", PolicyTests.webKey)
        let byKey = try await httpRequest(port: proxy.port, .GET, "/api", headers: [key])
        #expect(byKey.status == 200)
        #expect(byKey.json["headers"]?["x-consumer-name"] == ["web-app"])
        let byToken = try await httpRequest(port: proxy.port, .GET, "/api", headers: [token])
        #expect(byToken.status == 200)
        #expect(byToken.json["headers"]?["x-token-subject"] == ["user-42"])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", "wrong-key-0123456789"), token]).status == 200)
        let neither = try await httpRequest(port: proxy.port, .GET, "/api")
        #expect(neither.status == 401)
        #expect(neither.headers["www-authenticate"].count == 2)
        #expect(neither.json["error"]?["message"] == "no credential: send an API key or a bearer token")
        let wrongKey = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", "wrong-key-0123456789")])
        #expect(wrongKey.status == 401)
        #expect(wrongKey.json["error"]?["message"] == "the API key is not valid")
    }

    @Test func anACLAfterAJWTPolicyJudgesTheConsumerTheTokenNames() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start(policies: TestWallClock().policyState())
        let consumers: [JSONValue] = [
            ["id": "00000000-0000-4000-8000-0000000000a1", "name": "alice", "custom_id": "user-42", "groups": ["partners"]],
            ["id": "00000000-0000-4000-8000-0000000000a2", "name": "bob", "custom_id": "user-7"],
        ]
        let policies: [JSONValue] = [
            ["name": "tokens", "type": "jwt", "config": F.baseConfig.merging(patch: ["consumer_claim": "sub", "require_exp": false])],
            ["name": "partners", "type": "acl", "config": ["allow": ["partners"]]],
        ]
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/api"], "upstream": "u"]], policies: policies, consumers: consumers)
        #expect(rejection == nil)
        let alice = try await httpRequest(
            port: proxy.port, .GET, "/api", headers: [("authorization", "Bearer " + F.rsaToken(["exp": JSONValue?.none])), ("x-consumer-groups", "admins")])
        #expect(alice.status == 200)
        #expect(alice.json["headers"]?["x-consumer-name"] == ["alice"])
        #expect(alice.json["headers"]?["x-consumer-groups"] == ["partners"])
        let bob = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("authorization", "Bearer " + F.rsaToken(["sub": "user-7", "exp": JSONValue?.none]))])
        #expect(bob.status == 403)
    }

    @Test func explainShowsEachAuthenticationDecision() async throws {
        let proxy = try await proxy([Self.jwt.value, PolicyTests.keyAuth])
        let config = try #require(proxy.active.load())
        func authentication(_ headers: [(name: String, value: String)]) throws -> JSONValue? {
            try Explainer.explain(Explainer.Request(method: "GET", url: "http://any.test/api", headers: headers), config: config)["authentication"]
        }
        let token = try authentication([("authorization", "Bearer " + F.rsaToken())])
        #expect(token?["outcome"] == "identified")
        #expect(token?["policy"] == "tokens")
        #expect(token?["token"]?["subject"] == "user-42")
        let refused = try authentication([("authorization", "Bearer " + F.rsaToken(["aud": "other"])), ("apikey", "wrong-key-0123456789")])
        #expect(refused?["outcome"] == "invalid")
        #expect(refused?["status"] == 401)
        #expect(
            refused?["policies"]
                == [["policy": "auth", "reason": "the key belongs to no consumer"], ["policy": "tokens", "reason": "the token is not for this audience"]])
    }

    @Test func anAnonymousConsumerStandsInForAMissingOrRefusedToken() async throws {
        let anonymous: JSONValue = ["name": "tokens", "type": "jwt", "config": F.baseConfig.merging(patch: ["anonymous": "guest"])]
        let proxy = try await proxy([anonymous])
        for headers in [[], [("authorization", "Bearer " + F.rsaToken(["exp": .int(1)]))]] {
            let response = try await httpRequest(port: proxy.port, .GET, "/api", headers: headers)
            #expect(response.status == 200)
            #expect(response.json["headers"]?["x-consumer-name"] == ["guest"])
            #expect(response.json["headers"]?["x-anonymous-consumer"] == ["true"])
            #expect(response.json["headers"]?["x-token-subject"] == nil)
        }
    }
}

/// A JSON value held for a static (JSONValue literals are not constant expressions).
struct JWTValueBox: Sendable {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }
}
