import GatehouseModel
import Testing

@testable import GatehouseProxy

@Suite struct RouteTableTests {
    static func table(_ routes: [JSONValue]) throws -> RouteTable {
        RouteTable(
            routes: try routes.enumerated().map { index, json in
                CompiledRoute(try Route.read(json.merging(patch: ["upstream": "u"]), id: "r\(index)"), upstream: 0, meters: RequestMetrics())
            })
    }

    func match(_ table: RouteTable, host: String = "any.test", _ path: String, method: String = "GET", headers: [String: String] = [:]) -> String? {
        table.match(host: host, path: path, method: method, header: { headers[$0].map { [$0] } ?? [] })?.entry.route.name
    }

    @Test func longerPrefixWinsAndPrefixesMatchWholeSegments() throws {
        let table = try Self.table([["name": "root", "paths": ["/"]], ["name": "api", "paths": ["/api"]], ["name": "v1", "paths": ["/api/v1"]]])
        #expect(match(table, "/api/v1/users") == "v1")
        #expect(match(table, "/api/v1") == "v1")
        #expect(match(table, "/api/v10") == "api")
        #expect(match(table, "/apix") == "root")
        #expect(match(table, "/") == "root")
    }

    @Test func exactHostBeatsWildcardBeatsNone() throws {
        let table = try Self.table([
            ["name": "none", "paths": ["/a/b/c"]],
            ["name": "wild", "hosts": ["*.example.com"]],
            ["name": "exact", "hosts": ["api.example.com"]],
        ])
        #expect(match(table, host: "api.example.com", "/a/b/c") == "exact")
        #expect(match(table, host: "www.example.com", "/a/b/c") == "wild")
        #expect(match(table, host: "example.com", "/a/b/c") == "none")
        #expect(match(table, host: "other.test", "/z") == nil)
    }

    @Test func methodsAndHeadersNarrowAMatch() throws {
        let table = try Self.table([
            ["name": "any", "paths": ["/x"]],
            ["name": "post", "paths": ["/x"], "methods": ["POST"]],
            ["name": "v2", "paths": ["/x"], "methods": ["GET"], "headers": ["x-version": ["2"]]],
        ])
        #expect(match(table, "/x", method: "POST") == "post")
        #expect(match(table, "/x", method: "GET", headers: ["x-version": "2"]) == "v2")
        #expect(match(table, "/x", method: "GET", headers: ["x-version": "3"]) == "any")
        #expect(match(table, "/x", method: "DELETE") == "any")
    }

    @Test func tenThousandRoutesMatchByTheirOwnPrefix() throws {
        let table = try Self.table((0..<10_000).map { ["name": .string("r\($0)"), "paths": [.string("/svc\($0)/items")]] })
        #expect(match(table, "/svc9999/items/42") == "r9999")
        #expect(match(table, "/svc0/items") == "r0")
        #expect(match(table, "/svc10000/items") == nil)
        #expect(match(table, "/svc1/other") == nil)
    }

    @Test func matchedPrefixLengthIsReportedForStripPath() throws {
        let table = try Self.table([["name": "api", "paths": ["/api"]]])
        #expect(table.match(host: "h", path: "/api/users", method: "GET", header: { _ in [] })?.matchedLength == 4)
    }

    @Test func literalsBeatTemplatesAndExactPathsBeatPrefixes() throws {
        let table = try Self.table([
            ["name": "any-recipe", "paths": ["/recipes/{id}"]],
            ["name": "new-recipe", "paths": ["/recipes/new"]],
            ["name": "comments", "paths": ["/recipes/{id}/comments"]],
            ["name": "list", "paths": ["=/recipes"]],
            ["name": "recipes", "paths": ["/recipes"]],
        ])
        #expect(match(table, "/recipes/new") == "new-recipe")
        #expect(match(table, "/recipes/42") == "any-recipe")
        #expect(match(table, "/recipes/42/comments/7") == "comments")
        #expect(match(table, "/recipes/new/comments") == "comments")
        #expect(match(table, "/recipes") == "list")
        #expect(match(table, "/recipes/") == "recipes")
    }

    @Test func templatesCaptureTheirSegments() throws {
        let table = try Self.table([["name": "r", "paths": ["/menus/{menu}/recipes/{id}"]]])
        let found = try #require(table.match(host: "h", path: "/menus/7/recipes/42/x", method: "GET", header: { _ in [] }))
        #expect(found.captures.map { "\($0.name)=\($0.value)" } == ["menu=7", "id=42"])
        #expect(found.matchedLength == "/menus/7/recipes/42".utf8.count)
        #expect(table.match(host: "h", path: "/menus//recipes/42", method: "GET", header: { _ in [] }) == nil)
    }

    @Test func upstreamPathsAreFilledFromCaptures() throws {
        let table = try Self.table([
            ["name": "r", "paths": ["/recipes/{id}"], "upstream_path": "/v2/items/{id}"],
            ["name": "s", "paths": ["/shop"], "strip_path": true],
        ])
        func forwarded(_ path: String) -> String? {
            table.match(host: "h", path: path, method: "GET", header: { _ in [] }).map {
                UpstreamPath.forwarded(path, route: $0.entry.route, match: $0)
            }
        }
        #expect(forwarded("/recipes/42") == "/v2/items/42")
        #expect(forwarded("/recipes/42/comments") == "/v2/items/42/comments")
        #expect(forwarded("/shop") == "/")
        #expect(forwarded("/shop/cart") == "/cart")
    }
}

@Suite struct RequestTargetTests {
    @Test(arguments: [
        ("/a/b/../c", "/a/c"), ("/a/./b", "/a/b"), ("/../a", "/a"), ("/a/..", "/"), ("/a/b/.", "/a/b/"), ("/plain", "/plain"),
        ("/a/%2e%2e/b", "/b"), ("/a/%2E/b", "/a/b"), ("/%7euser", "/~user"), ("/a%2fb", "/a%2Fb"), ("/x?q=/../y", "/x"),
    ])
    func pathsAreNormalized(input: String, expected: String) throws {
        #expect(try RequestTarget(input).path == expected)
    }

    @Test(arguments: ["/a#b", "/a\\b", "/a%zz", "/a%2", "*", "/a b", "/x?q=%g0", "/a%00b"])
    func badTargetsAreRefused(input: String) {
        #expect(throws: RequestTarget.Refusal.self) { try RequestTarget(input) }
    }

    @Test func queryIsKeptAsSent() throws {
        let target = try RequestTarget("/a/../b?x=%41&y")
        #expect(target.uri(path: "/c") == "/c?x=%41&y")
    }

    @Test func absoluteFormGivesAuthorityAndOriginForm() throws {
        #expect(RequestTarget.originForm("http://api.example.com:8080/a?b=1") == ("api.example.com:8080", "/a?b=1"))
        #expect(RequestTarget.originForm("HTTP://h?x") == ("h", "/?x"))
        #expect(RequestTarget.originForm("https://h") == ("h", "/"))
        #expect(RequestTarget.originForm("/plain") == (nil, "/plain"))
        #expect(RequestTarget.routingHost("API.example.com.:8080") == "api.example.com")
        #expect(RequestTarget.routingHost("api.example.com.") == "api.example.com")
        #expect(RequestTarget.routingHost("[::1]:80") == "[::1]")
        #expect(try RequestTarget("http://h.example/p").authority == "h.example")
    }
}

@Suite struct RequestAuthorityTests {
    @Test(arguments: ["", "a", "api.example.com:8080", "a.", "[::1]", "[::1]:8080", "[::ffff:10.0.0.1]", "a:", "1.2.3.4:65535", "a_b", "A-9.b", "10.0.0.1", "0.0.0.0.", "255.255.255.255:80", "a.1b", "1a", "v1.example"])
    func validAuthoritiesAreAccepted(_ authority: String) {
        #expect(RequestAuthority.isValid(authority))
    }

    @Test(arguments: ["u@a", "a b", "a/b", "a:b", "a:65536", "a:1234567", "[::1", "[zz]", "[]", "a%2", "a%zz", "a:80:80", "[::1]x", "a\tb", "a%2eb", "a..b", ".a", ".", "a..", "a.:80:", "a,b", "a;b", "a=b", "a~b", "a!b", "a*b", "10.1", "010.0.0.1", "0x0a.0.0.1", "167772161", "1.2.3.256", "1.2.3.4.5", "a.0x1", "a.12", "0x"])
    func invalidAuthoritiesAreRefused(_ authority: String) {
        #expect(!RequestAuthority.isValid(authority))
    }
}

@Suite struct IPRangeTests {
    @Test func rangesContainTheirAddresses() throws {
        let v4 = try #require(IPRange("10.1.0.0/16"))
        #expect(v4.contains("10.1.200.3"))
        #expect(!v4.contains("10.2.0.1"))
        #expect(v4.contains("::ffff:10.1.0.9"))
        let v6 = try #require(IPRange("fd00::/8"))
        #expect(v6.contains("fd12::1"))
        #expect(!v6.contains("fe80::1"))
        #expect(IPRange("127.0.0.1")?.contains("127.0.0.1") == true)
        #expect(IPRange("10.0.0.0/33") == nil)
        #expect(IPRange("nope") == nil)
    }
}

@Suite struct BalancerTests {
    static var key: Balancer.RequestKey { Balancer.RequestKey(clientIP: "10.0.0.1", path: "/") }

    @Test func roundRobinVisitsEveryTargetInTurn() {
        let balancer = Balancer(algorithm: .roundRobin, hashOn: nil, weights: [100, 100, 100])
        let picks = (0..<6).map { _ in balancer.pick(key: Self.key, active: { _ in 0 })! }
        #expect(picks == [0, 1, 2, 0, 1, 2])
    }

    @Test func weightedFollowsTheWeightsExactlyOverACycle() {
        let balancer = Balancer(algorithm: .weighted, hashOn: nil, weights: [50, 100, 150])
        var counts = [0, 0, 0]
        for _ in 0..<600 { counts[balancer.pick(key: Self.key, active: { _ in 0 })!] += 1 }
        #expect(counts == [100, 200, 300])
    }

    @Test func leastConnectionsPicksTheLeastLoaded() {
        let balancer = Balancer(algorithm: .leastConnections, hashOn: nil, weights: [100, 100, 100])
        #expect(balancer.pick(key: Self.key, active: { [5, 1, 3][$0] }) == 1)
    }

    @Test func consistentHashIsStableAndMovesFewKeysWhenATargetGoes() {
        let all = Balancer(algorithm: .consistentHash, hashOn: .path, weights: [100, 100, 100, 100])
        var moved = 0
        for index in 0..<400 {
            let key = Balancer.RequestKey(clientIP: "", path: "/user/\(index)")
            let first = all.pick(key: key, active: { _ in 0 })!
            #expect(all.pick(key: key, active: { _ in 0 }) == first)
            let without3 = all.pick(excluding: [3], key: key, active: { _ in 0 })!
            if first != 3 && without3 != first { moved += 1 }
        }
        #expect(moved == 0)
    }

    @Test func excludedTargetsAreSkippedAndExhaustionIsNil() {
        let balancer = Balancer(algorithm: .roundRobin, hashOn: nil, weights: [100, 100])
        #expect(balancer.pick(excluding: [0], key: Self.key, active: { _ in 0 }) == 1)
        #expect(balancer.pick(excluding: [0, 1], key: Self.key, active: { _ in 0 }) == nil)
    }

    @Test func targetSetsCountEachIndexOnceOnBothSidesOf64() throws {
        var set: TargetSet = [0, 63]
        for index in [0, 63, 64, 1000, 64, 5] { set.insert(index) }
        #expect(set.count == 5)
        for index in [0, 5, 63, 64, 1000] { #expect(set.contains(index), "\(index)") }
        for index in [1, 62, 65, 999, -1] { #expect(!set.contains(index), "\(index)") }
        #expect(TargetSet().isEmpty)
        // Past the first 64 the balancer still skips what was tried.
        let many = Balancer(algorithm: .roundRobin, hashOn: nil, weights: Array(repeating: 1, count: 70))
        var tried = TargetSet()
        for _ in 0..<70 {
            let index = try #require(many.pick(excluding: tried, key: Self.key, active: { _ in 0 }))
            #expect(!tried.contains(index))
            tried.insert(index)
        }
        #expect(many.pick(excluding: tried, key: Self.key, active: { _ in 0 }) == nil)
    }
}
