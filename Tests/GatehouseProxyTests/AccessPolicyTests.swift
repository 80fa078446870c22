import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// `acl` and `ip-restriction` on the data plane, against a real upstream over loopback sockets.
@Suite struct AccessPolicyTests {
    static let adminKey = "admin-key-0123456789abc"
    static let staffKey = "staff-key-0123456789abc"
    static let loneKey = "lone-key-0123456789abcd"
    static let consumers: [JSONValue] = [
        [
            "id": "00000000-0000-4000-8000-0000000000a1", "name": "alice", "groups": ["admins", "staff"],
            "credentials": [["id": "00000000-0000-4000-8000-0000000000b1", "type": "key-auth", "key": .string(adminKey)]],
        ],
        [
            "id": "00000000-0000-4000-8000-0000000000a2", "name": "bob", "groups": ["staff"],
            "credentials": [["id": "00000000-0000-4000-8000-0000000000b2", "type": "key-auth", "key": .string(staffKey)]],
        ],
        [
            "id": "00000000-0000-4000-8000-0000000000a3", "name": "carol",
            "credentials": [["id": "00000000-0000-4000-8000-0000000000b3", "type": "key-auth", "key": .string(loneKey)]],
        ],
        ["id": "00000000-0000-4000-8000-0000000000a4", "name": "nobody", "groups": ["guests"]],
    ]

    static func proxy(
        policies: [JSONValue], options: ProxyOptions = ProxyOptions(), routePath: String = "/api"
    ) async throws -> (ProxyHarness, TestUpstream) {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start(options: options, policies: TestWallClock().policyState())
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": [.string(routePath)], "upstream": "u"]], policies: policies, consumers: consumers)
        #expect(rejection == nil)
        return (proxy, upstream)
    }

    static func metric(_ proxy: ProxyHarness, _ type: PolicyType, _ reason: PolicyMetrics.Reason) -> Int {
        proxy.active.load()!.policyMetrics.decisions(type, reason)
    }

    // MARK: acl

    @Test func anAllowListLetsItsGroupsThroughAndRefusesOthersWith403() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "auth", "type": "key-auth"], ["name": "admins-only", "type": "acl", "config": ["allow": ["admins"]]],
        ])
        let admin = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.adminKey)])
        #expect(admin.status == 200)
        #expect(admin.json["headers"]?["x-consumer-groups"] == ["admins,staff"])
        let staff = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.staffKey)])
        #expect(staff.status == 403)
        #expect(staff.json["error"]?["code"] == "forbidden")
        #expect(staff.json["error"]?["message"]?.stringValue?.contains("admins-only") == true)
        #expect(staff.header("x-upstream") == nil)
        // No groups at all: not in the allowed one either.
        let lone = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.loneKey)])
        #expect(lone.status == 403)
        // Authentication still comes first: no key is 401, not 403.
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 401)
        #expect(Self.metric(proxy, .acl, .allowed) == 1)
        #expect(Self.metric(proxy, .acl, .groupNotAllowed) == 2)
        #expect(
            proxy.active.load()!.policyMetrics.prometheusText.contains(
                "gatehouse_policy_decisions_total{type=\"acl\",reason=\"group_not_allowed\"} 2"))
    }

    @Test func aDenyListRefusesItsGroupsAndLetsOthersThrough() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "auth", "type": "key-auth"], ["name": "no-admins", "type": "acl", "config": ["deny": ["admins"], "hide_groups_header": true]],
        ])
        let admin = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.adminKey)])
        #expect(admin.status == 403)
        #expect(admin.json["error"]?["code"] == "forbidden")
        let staff = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.staffKey)])
        #expect(staff.status == 200)
        // hide_groups_header: the upstream is not told.
        #expect(staff.json["headers"]?["x-consumer-groups"] == nil)
        #expect(Self.metric(proxy, .acl, .groupDenied) == 1)
    }

    @Test func theAnonymousConsumersGroupsDecide() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "auth", "type": "key-auth", "config": ["anonymous": "carol"]],
            ["name": "staff-only", "type": "acl", "config": ["allow": ["staff"]]],
        ])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 403)
        #expect(try await httpRequest(port: proxy.port, .GET, "/api", headers: [("apikey", Self.staffKey)]).status == 200)
    }

    @Test func aClientSentGroupsHeaderNeverReachesTheUpstream() async throws {
        for policies: [JSONValue] in [
            [["name": "auth", "type": "key-auth"], ["name": "staff", "type": "acl", "config": ["allow": ["staff"]]]],
            [["name": "auth", "type": "key-auth"], ["name": "staff", "type": "acl", "config": ["allow": ["staff"], "hide_groups_header": true]]],
            [["name": "auth", "type": "key-auth"]],
        ] {
            let (proxy, _) = try await Self.proxy(policies: policies)
            let response = try await httpRequest(
                port: proxy.port, .GET, "/api", headers: [("apikey", Self.staffKey), ("X-Consumer-Groups", "admins")])
            #expect(response.status == 200)
            let seen = response.json["headers"]?["x-consumer-groups"]
            #expect(seen == nil || seen == ["staff"], "\(policies)")
        }
    }

    @Test func aSnapshotWithAnACLButNoAuthenticationIsRefused() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/api"], "upstream": "u"]],
            policies: [["name": "staff", "type": "acl", "config": ["allow": ["staff"]]]], consumers: Self.consumers)
        #expect(rejection?.contains("staff") == true)
        #expect(proxy.active.load() == nil)
    }

    // MARK: ip-restriction

    @Test func anAllowListRefusesEveryOtherAddress() async throws {
        let (refusing, upstream) = try await Self.proxy(policies: [["name": "office", "type": "ip-restriction", "config": ["allow": ["10.0.0.0/8"]]]])
        let refused = try await httpRequest(port: refusing.port, .GET, "/api")
        #expect(refused.status == 403)
        #expect(refused.json["error"]?["code"] == "forbidden")
        #expect(refused.json["error"]?["message"]?.stringValue?.contains("office") == true)
        #expect(upstream.connectionCount == 0)
        #expect(Self.metric(refusing, .ipRestriction, .addressNotAllowed) == 1)
        let (allowing, _) = try await Self.proxy(policies: [
            ["name": "local", "type": "ip-restriction", "config": ["allow": ["127.0.0.0/8", "::1"]]]
        ])
        #expect(try await httpRequest(port: allowing.port, .GET, "/api").status == 200)
        #expect(Self.metric(allowing, .ipRestriction, .allowed) == 1)
    }

    @Test func denyWinsOverAllow() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "ips", "type": "ip-restriction", "config": ["allow": ["127.0.0.0/8"], "deny": ["127.0.0.1"]]]
        ])
        #expect(try await httpRequest(port: proxy.port, .GET, "/api").status == 403)
        #expect(Self.metric(proxy, .ipRestriction, .addressDenied) == 1)
    }

    @Test func theAddressATrustedProxyForwardedIsTheOneChecked() async throws {
        var options = ProxyOptions()
        options.trustedProxies = [IPRange("127.0.0.0/8")!]
        let config: JSONValue = ["allow": ["203.0.113.0/24", "2001:db8:1::/48"], "deny": ["203.0.113.66", "2001:db8:1:bad::/64"]]
        let (proxy, _) = try await Self.proxy(policies: [["name": "ips", "type": "ip-restriction", "config": config]], options: options)
        for (forwarded, status) in [
            ("203.0.113.7", 200), ("198.51.100.1, 203.0.113.9", 200), ("203.0.113.66", 403), ("198.51.100.1", 403),
            ("2001:db8:1:2::5", 200), ("2001:db8:1:bad::1", 403), ("2001:db8:2::1", 403), ("not-an-address", 403),
        ] {
            let response = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("X-Forwarded-For", forwarded)])
            #expect(response.status == status, "\(forwarded)")
        }
        #expect(Self.metric(proxy, .ipRestriction, .addressUnreadable) == 1)
        // From a peer that is not trusted, X-Forwarded-For is not believed: the peer is checked.
        let (strict, _) = try await Self.proxy(policies: [["name": "ips", "type": "ip-restriction", "config": config]])
        #expect(try await httpRequest(port: strict.port, .GET, "/api", headers: [("X-Forwarded-For", "203.0.113.7")]).status == 403)
    }

    @Test func aPreflightIsAnsweredBeforeTheAddressIsChecked() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "cors", "type": "cors", "config": ["allow_origins": ["https://www.example.com"]]],
            ["name": "office", "type": "ip-restriction", "config": ["allow": ["10.0.0.0/8"]]],
        ])
        let preflight = try await httpRequest(
            port: proxy.port, .OPTIONS, "/api", headers: [("Origin", "https://www.example.com"), ("Access-Control-Request-Method", "GET")])
        #expect(preflight.status == 204)
        let actual = try await httpRequest(port: proxy.port, .GET, "/api", headers: [("Origin", "https://www.example.com")])
        #expect(actual.status == 403)
        // The page may read why.
        #expect(actual.header("access-control-allow-origin") == "https://www.example.com")
    }

    // MARK: explain

    @Test func explainShowsEachAccessDecision() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "ips", "type": "ip-restriction", "config": ["deny": ["192.0.2.0/24"]]],
            ["name": "auth", "type": "key-auth"], ["name": "admins-only", "type": "acl", "config": ["allow": ["admins"]]],
        ])
        let config = try #require(proxy.active.load())
        var request = Explainer.Request(method: "GET", url: "http://a/api", headers: [("apikey", Self.staffKey)])
        request.clientIP = "203.0.113.1"
        let staff = try Explainer.explain(request, config: config)
        #expect(staff["ip_restriction"]?["outcome"] == "allowed")
        #expect(staff["authorization"]?["policy"] == "admins-only")
        #expect(staff["authorization"]?["outcome"] == "group_not_allowed")
        #expect(staff["answer"]?["status"] == 403)
        #expect(staff["policies"]?.arrayValue?.map { $0["phase"]?.stringValue ?? "" } == ["ip-restriction", "authentication", "authorization"])
        request.headers = [("apikey", Self.adminKey)]
        let admin = try Explainer.explain(request, config: config)
        #expect(admin["authorization"]?["outcome"] == "allowed")
        #expect(admin["answer"]?["status"] == .null)
        request.clientIP = "192.0.2.9"
        let denied = try Explainer.explain(request, config: config)
        #expect(denied["ip_restriction"]?["outcome"] == "address_denied")
        #expect(denied["ip_restriction"]?["reason"]?.stringValue?.contains("192.0.2.0/24") == true)
        #expect(denied["answer"]?["status"] == 403)
    }
}
