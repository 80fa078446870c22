import Crypto
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The embedded data plane against real upstream servers on loopback sockets.
@Suite struct ProxyForwardingTests {
    @Test func forwardsWithStripPathAndSetsForwardingHeaders() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [
                ["name": "api", "paths": ["/api"], "strip_path": true, "upstream": "u"]
            ])
        let response = try await httpRequest(
            port: proxy.port, .GET, "/api/items?x=1",
            headers: [
                ("Host", "shop.example.com"), ("Connection", "x-secret"), ("X-Secret", "s"),
                ("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6"), ("Keep-Alive", "timeout=1"),
            ])
        #expect(response.status == 200)
        let seen = response.json
        let headers = try #require(seen["headers"])
        #expect(seen["uri"] == "/items?x=1")
        #expect(headers["x-forwarded-for"] == ["127.0.0.1"])
        #expect(headers["x-forwarded-proto"] == ["http"])
        #expect(headers["x-forwarded-host"] == ["shop.example.com"])
        #expect(headers["host"] == .array([.string(upstream.target)]))
        #expect(headers["x-request-id"]?.arrayValue?.first?.stringValue?.count == 32)
        #expect(headers["x-secret"] == nil)
        #expect(headers["forwarded"] == nil)
        #expect(headers["keep-alive"] == nil)
        #expect(response.header("x-upstream") == "upstream")
        #expect(response.header("x-upstream-secret") == nil)
        #expect(response.header("keep-alive") == nil)
    }

    @Test func templateRoutesRewriteTheUpstreamPath() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [
                ["name": "recipe", "paths": ["/recipes/{id}"], "upstream_path": "/v2/items/{id}", "upstream": "u"]
            ])
        let response = try await httpRequest(port: proxy.port, .GET, "/recipes/42/comments?page=2")
        #expect(response.json["uri"] == "/v2/items/42/comments?page=2")
        #expect(try await httpRequest(port: proxy.port, .GET, "/recipes").status == 404)
    }

    @Test func preserveHostSendsTheClientsHost() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [
                ["name": "api", "preserve_host": true, "upstream": "u"]
            ])
        let response = try await httpRequest(port: proxy.port, .GET, "/a/../b", headers: [("Host", "shop.example.com"), ("X-Request-Id", "given")])
        #expect(response.json["headers"]?["host"] == ["shop.example.com"])
        #expect(response.json["headers"]?["x-request-id"] == ["given"])
        #expect(response.json["uri"] == "/b")
    }

    @Test func roundRobinSpreadsRequestsOverTargets() async throws {
        let a = try await TestUpstream.start(name: "a")
        let b = try await TestUpstream.start(name: "b")
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(a.target)], ["target": .string(b.target)]]]],
            routes: [
                ["name": "all", "upstream": "u"]
            ])
        var servers: [String] = []
        for _ in 0..<4 { servers.append(try await httpRequest(port: proxy.port, .GET, "/").json["server"]?.stringValue ?? "") }
        #expect(servers == ["a", "b", "a", "b"] || servers == ["b", "a", "b", "a"])
    }

    @Test func keepAliveReusesOneUpstreamConnection() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let client = try await TestConnection.open(port: proxy.port)
        for index in 0..<5 {
            #expect(try await client.request(.GET, "/\(index)").status == 200)
        }
        await client.close()
        #expect(upstream.connectionCount == 1)
    }

    @Test func gatewayErrorsHaveJSONBodies() async throws {
        let slow = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                ["name": "empty", "targets": []],
                // Port 1 (tcpmux) has no listener here: connecting is refused.
                ["name": "gone", "targets": [["target": "127.0.0.1:1"]]],
                ["name": "slow", "targets": [["target": .string(slow.target)]], "timeouts": ["read": "200ms"]],
                // Default timeouts: a close must be seen as a close however loaded the machine is.
                ["name": "closing", "targets": [["target": .string(slow.target)]]],
            ],
            routes: [
                ["name": "empty", "paths": ["/empty"], "upstream": "empty"],
                ["name": "gone", "paths": ["/gone"], "upstream": "gone"],
                ["name": "slow", "paths": ["/hang"], "upstream": "slow"],
                ["name": "closing", "paths": ["/close"], "upstream": "closing"],
            ])
        let cases: [(String, Int, String)] = [
            ("/nothing-here", 404, "no_route"), ("/empty", 503, "no_healthy_target"), ("/gone", 502, "upstream_unreachable"),
            ("/hang", 504, "upstream_timeout"), ("/close", 502, "upstream_failed"),
        ]
        for (path, status, code) in cases {
            let response = try await httpRequest(port: proxy.port, .GET, path)
            #expect(response.status == status, "\(path)")
            #expect(response.json["error"]?["code"]?.stringValue == code, "\(path)")
            #expect(response.header("content-type") == "application/json")
        }
    }

    @Test func theReadTimeoutHoldsForEveryRequestOfAKeepAliveConnection() async throws {
        let slow = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "slow", "targets": [["target": .string(slow.target)]], "timeouts": ["read": "1s"]]],
            routes: [["name": "all", "upstream": "slow"]])
        // Requests that finish in time leave the read check armed for the next one; a later
        // request that hangs must still time out, on the same client connection. (1 s: the quick
        // requests must not time out even while the whole suite loads the machine.)
        let client = try await TestConnection.open(port: proxy.port)
        for _ in 0..<3 { #expect(try await client.request(.GET, "/fast").status == 200) }
        let hung = try await client.request(.GET, "/hang")
        #expect(hung.status == 504)
        #expect(hung.json["error"]?["code"] == "upstream_timeout")
        #expect(try await client.request(.GET, "/fast").status == 200)
        let again = try await client.request(.GET, "/hang")
        #expect(again.status == 504)
        await client.close()
    }

    @Test func largeBodiesStreamBothWays() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let chunk = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let chunks = Array(repeating: chunk, count: 128)
        var hasher = SHA256()
        for part in chunks { hasher.update(data: part) }
        let digest = hasher.finalize().map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()

        let client = try await TestConnection.open(port: proxy.port)
        let upload = try await client.request(.POST, "/upload", body: chunks)
        #expect(upload.json["body_bytes"] == 8_388_608)
        #expect(upload.json["body_sha256"]?.stringValue == digest)
        let download = try await client.request(.GET, "/bytes/16777216")
        #expect(download.status == 200)
        #expect(download.body.count == 16_777_216)
        await client.close()
    }

    @Test func aSnapshotWithAPolicyThatCannotBeBuiltIsRefusedWhole() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let upstreams: [JSONValue] = [["name": "u", "targets": [["target": .string(upstream.target)]]]]
        #expect(try proxy.apply(version: 1, upstreams: upstreams, routes: [["name": "old", "paths": ["/old"], "upstream": "u"]]) == nil)
        // A config admission would have refused (credentials with any origin), as a control plane
        // with other rules might send it: the data plane checks again.
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(upstreams[0], id: "00000000-0000-4000-8000-000000000001")]
        document.routes = [try Route.read(["name": "new", "paths": ["/new"], "upstream": "u"], id: "00000000-0000-4000-8000-000000000002")]
        document.policies = [
            Policy(
                header: EntityHeader(id: "00000000-0000-4000-8000-000000000003", name: "cors"), type: .cors,
                config: ["allow_origins": ["*"], "allow_credentials": true])
        ]
        let reason = proxy.applier.apply(Snapshot(version: 2, document: document))
        #expect(reason?.contains("policy 'cors' cannot be built: config.allow_credentials") == true)
        #expect(proxy.state.current.version == 1)
        #expect(proxy.state.current.lastRejection?.version == 2)
        #expect(try await httpRequest(port: proxy.port, .GET, "/old").status == 200)
        #expect(try await httpRequest(port: proxy.port, .GET, "/new").status == 404)
    }

    @Test func beforeAnySnapshotRequestsGet503() async throws {
        let proxy = try await ProxyHarness.start()
        #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 503)
        #expect(!proxy.state.isReady)
    }
}
