import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// `request-transformer` and `response-transformer` on the data plane, against a real upstream
/// that answers with what it received.
@Suite struct TransformPolicyTests {
    static func proxy(policies: [JSONValue], routePath: String = "/users/{user}/items") async throws -> (ProxyHarness, TestUpstream) {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start(policies: TestWallClock().policyState())
        let rejection = try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "items", "paths": [.string(routePath)], "upstream": "u"]], policies: policies,
            consumers: AccessPolicyTests.consumers)
        #expect(rejection == nil)
        return (proxy, upstream)
    }

    static let auth: JSONValue = ["name": "auth", "type": "key-auth"]

    @Test func headersAreRemovedRenamedSetAndAddedInThatOrder() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            [
                "name": "reshape", "type": "request-transformer",
                "config": [
                    "remove": ["headers": ["X-Debug"]],
                    "rename": ["headers": ["X-Old": "X-New"]],
                    "set": ["headers": ["X-Env": "prod"]],
                    "add": ["headers": ["X-Env": "never", "X-Extra": "one", "X-Kept": "default", "X-New": "not-this"]],
                ],
            ]
        ])
        let response = try await httpRequest(
            port: proxy.port, .GET, "/users/7/items",
            headers: [("X-Debug", "1"), ("X-Old", "moved"), ("X-New", "clients-own"), ("X-Env", "dev"), ("X-Kept", "client")])
        #expect(response.status == 200)
        let seen = try #require(response.json["headers"])
        #expect(seen["x-debug"] == nil)
        #expect(seen["x-old"] == nil)
        #expect(seen["x-new"] == ["moved"])
        #expect(seen["x-env"] == ["prod"])
        #expect(seen["x-extra"] == ["one"])
        #expect(seen["x-kept"] == ["client"])
        // Without the renamed header, the client's own X-New stays and add fills the gap.
        let plain = try await httpRequest(port: proxy.port, .GET, "/users/7/items", headers: [("X-New", "clients-own")])
        #expect(plain.json["headers"]?["x-new"] == ["clients-own"])
        let bare = try await httpRequest(port: proxy.port, .GET, "/users/7/items")
        #expect(bare.json["headers"]?["x-new"] == ["not-this"])
        #expect(bare.json["headers"]?["x-kept"] == ["default"])
    }

    @Test func valuesNameTheConsumerTheRouteAndPathParameters() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            Self.auth,
            [
                "name": "identity", "type": "request-transformer",
                "config": [
                    "set": [
                        "headers": [
                            "X-Who": "$(consumer.name)/$(consumer.id)", "X-Route": "route $(route.name)", "X-User": "u-$(path.user)",
                            "X-Custom": "$(consumer.custom_id)",
                        ],
                        "query": ["owner": "$(path.user)", "by": "$(consumer.name)"],
                    ],
                    "remove": ["query": ["debug"]],
                    "rename": ["query": ["q": "search"]],
                ],
            ],
        ])
        let response = try await httpRequest(
            port: proxy.port, .GET, "/users/j%C3%B6rg/items?debug=1&q=soup&owner=forged", headers: [("apikey", AccessPolicyTests.staffKey)])
        #expect(response.status == 200)
        let seen = try #require(response.json["headers"])
        #expect(seen["x-who"] == ["bob/00000000-0000-4000-8000-0000000000a2"])
        #expect(seen["x-route"] == ["route items"])
        #expect(seen["x-user"] == ["u-jörg"])
        // bob has no custom_id: the header is not written (and counted), never written empty.
        #expect(seen["x-custom"] == nil)
        #expect(proxy.active.load()!.policyMetrics.decisions(.requestTransformer, .valueMissing) == 1)
        // Set parameters go last, in name order, once each (the client's forged owner is replaced).
        #expect(response.json["uri"] == "/users/j%C3%B6rg/items?search=soup&by=bob&owner=j%C3%B6rg")
    }

    @Test func aSubstitutedValueWithALineBreakIsDroppedAndCounted() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            ["name": "user", "type": "request-transformer", "config": ["set": ["headers": ["X-User": "$(path.user)", "X-Static": "ok"]]]],
            ["name": "echo", "type": "response-transformer", "config": ["add": ["headers": ["X-User-Echo": "$(path.user)"]]]],
        ])
        let response = try await httpRequest(port: proxy.port, .GET, "/users/a%0D%0AX-Injected:%20yes/items")
        #expect(response.status == 200)
        let seen = try #require(response.json["headers"])
        #expect(seen["x-user"] == nil)
        #expect(seen["x-injected"] == nil)
        #expect(seen["x-static"] == ["ok"])
        #expect(response.header("x-user-echo") == nil)
        #expect(response.header("x-injected") == nil)
        let metrics = proxy.active.load()!.policyMetrics
        #expect(metrics.decisions(.requestTransformer, .valueRefused) == 1)
        #expect(metrics.decisions(.responseTransformer, .valueRefused) == 1)
        let fine = try await httpRequest(port: proxy.port, .GET, "/users/ann/items")
        #expect(fine.json["headers"]?["x-user"] == ["ann"])
        #expect(fine.header("x-user-echo") == "ann")
    }

    @Test func theUpstreamsResponseHeadersAreTransformedButNotTheGatewaysOwnAnswers() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            Self.auth,
            [
                "name": "answer", "type": "response-transformer",
                "config": [
                    "remove": ["headers": ["X-Upstream-Secret"]],
                    "rename": ["headers": ["X-Upstream": "X-Served-By"]],
                    "set": ["headers": ["Cache-Control": "no-store"]],
                    "add": ["headers": ["X-Consumer": "$(consumer.name)", "Content-Type": "text/plain"]],
                ],
            ],
        ])
        let response = try await httpRequest(port: proxy.port, .GET, "/users/1/items", headers: [("apikey", AccessPolicyTests.adminKey)])
        #expect(response.status == 200)
        #expect(response.header("x-upstream") == nil)
        #expect(response.header("x-served-by") == "upstream")
        #expect(response.headers["cache-control"] == ["no-store"])
        #expect(response.header("x-consumer") == "alice")
        // The upstream said its content type: add leaves it.
        #expect(response.headers["content-type"] == ["application/json"])
        #expect(response.json["method"] == "GET")
        // A 401 of the gateway's own keeps its documented shape.
        let refused = try await httpRequest(port: proxy.port, .GET, "/users/1/items")
        #expect(refused.status == 401)
        #expect(refused.header("cache-control") == nil)
        #expect(refused.header("x-consumer") == nil)
        #expect(proxy.active.load()!.policyMetrics.decisions(.responseTransformer, .applied) == 1)
    }

    @Test func aRenameNeverForwardsAKeyKeyAuthHides() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            Self.auth,
            ["name": "leak", "type": "request-transformer", "config": ["rename": ["headers": ["apikey": "X-Key", "X-Old": "X-New"]]]],
        ])
        let response = try await httpRequest(
            port: proxy.port, .GET, "/users/1/items", headers: [("apikey", AccessPolicyTests.staffKey), ("X-Old", "moved")])
        #expect(response.status == 200)
        let seen = try #require(response.json["headers"])
        #expect(seen["x-key"] == nil)
        #expect(seen["apikey"] == nil)
        #expect(seen["x-new"] == ["moved"])
    }

    @Test func explainShowsWhatTheTransformsWouldWrite() async throws {
        let (proxy, _) = try await Self.proxy(policies: [
            Self.auth,
            [
                "name": "reshape", "type": "request-transformer",
                "config": ["set": ["headers": ["X-User": "$(path.user)", "X-Who": "$(consumer.name)"]]],
            ],
            ["name": "answer", "type": "response-transformer", "config": ["remove": ["headers": ["Server"]]]],
        ])
        let request = Explainer.Request(method: "GET", url: "http://a/users/42/items", headers: [("apikey", AccessPolicyTests.loneKey)])
        let explained = try Explainer.explain(request, config: try #require(proxy.active.load()))
        #expect(explained["request_transform"]?["policy"] == "reshape")
        #expect(explained["request_transform"]?["headers"]?["set"]?["x-user"] == "42")
        #expect(explained["request_transform"]?["headers"]?["set"]?["x-who"] == "carol")
        #expect(explained["response_transform"]?["headers"]?["remove"] == ["server"])
        #expect(
            explained["policies"]?.arrayValue?.map { $0["phase"]?.stringValue ?? "" } == [
                "authentication", "request-transform", "response-transform",
            ])
    }
}
