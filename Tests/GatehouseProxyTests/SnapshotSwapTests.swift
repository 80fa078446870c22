import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// Config swaps under traffic: a request keeps the snapshot it started with, connections are
/// never touched by a swap.
@Suite struct SnapshotSwapTests {
    static func upstreams(_ upstream: TestUpstream) -> [JSONValue] {
        [["name": "u", "targets": [["target": .string(upstream.target)]]]]
    }

    @Test func inFlightRequestFinishesOnTheSnapshotItStartedWith() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(version: 1, upstreams: Self.upstreams(upstream), routes: [["name": "held", "paths": ["/hold"], "upstream": "u"]])
        let inFlight = Task { try await httpRequest(port: proxy.port, .GET, "/hold") }
        try await waitUntil("the upstream to hold the request") { upstream.heldCount == 1 }
        for version in 2...11 {
            // The last versions drop the route the request matched.
            var routes: [JSONValue] = []
            if version < 8 {
                routes.append(["name": "held", "paths": ["/hold"], "upstream": "u"])
                routes.append(["name": .string("v\(version)"), "paths": [.string("/v\(version)")], "upstream": "u"])
            }
            #expect(try proxy.apply(version: version, upstreams: Self.upstreams(upstream), routes: routes) == nil)
        }
        #expect(proxy.state.current.version == 11)
        upstream.release()
        let response = try await inFlight.value
        #expect(response.status == 200)
        #expect(response.json["uri"] == "/hold")
        #expect(try await httpRequest(port: proxy.port, .GET, "/hold").status == 404)
    }

    @Test func aKeepAliveConnectionSurvivesOneHundredSwaps() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let client = try await TestConnection.open(port: proxy.port)
        for version in 1...100 {
            let routes: [JSONValue] = [["name": "all", "upstream": "u", "tags": [.string("v\(version)")]]]
            #expect(try proxy.apply(version: version, upstreams: Self.upstreams(upstream), routes: routes) == nil)
            #expect(try await client.request(.GET, "/\(version)").status == 200)
        }
        #expect(!client.isClosed)
        #expect(upstream.connectionCount == 1)
        await client.close()
    }

    @Test func aSnapshotWithTheSameContentIsNotRecompiled() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        let routes: [JSONValue] = [["name": "all", "upstream": "u"]]
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(Self.upstreams(upstream)[0], id: "00000000-0000-4000-8000-000000000001")]
        document.routes = [try Route.read(routes[0], id: "00000000-0000-4000-8000-000000000002")]
        proxy.applier.apply(Snapshot(version: 1, document: document))
        let first = try #require(proxy.active.load())
        proxy.applier.apply(Snapshot(version: 2, document: document))
        let second = try #require(proxy.active.load())
        #expect(second.version == 2)
        #expect(first !== second)
        #expect(first.routes.routeCount == second.routes.routeCount)
        // The very same compiled upstream: nothing was compiled again.
        #expect(first.upstreams[0] === second.upstreams[0])
        #expect(proxy.state.current.version == 2)
    }
}
