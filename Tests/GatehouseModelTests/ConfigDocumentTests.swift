import GatehouseModel
import Testing

@Suite struct ConfigDocumentTests {
    static func uuid(_ n: Int) -> String { "00000000-0000-4000-8000-\(String(repeating: "0", count: 12 - String(n).count))\(n)" }

    static func document(routes: [JSONValue] = []) throws -> ConfigDocument {
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(["name": "api", "targets": [["target": "127.0.0.1:9000"]]], id: uuid(1))]
        for (index, route) in routes.enumerated() {
            document.routes.append(try Route.read(route, id: uuid(100 + index)))
        }
        return document
    }

    private func error(_ document: ConfigDocument) -> ConfigError? {
        do {
            try document.validate()
            return nil
        } catch {
            return error
        }
    }

    @Test func equalContentHasEqualHash() throws {
        let a = try Self.document(routes: [["name": "r", "upstream": "api", "paths": ["/a", "/b"]]])
        let b = try Self.document(routes: [["name": "r", "upstream": "api", "paths": ["/b", "/a"]]])
        #expect(a.canonical().hash == b.canonical().hash)
        let c = try Self.document(routes: [["name": "r", "upstream": "api", "paths": ["/a"]]])
        #expect(a.canonical().hash != c.canonical().hash)
    }

    @Test func documentRoundTripsThroughJSON() throws {
        let document = try Self.document(routes: [["name": "r", "upstream": "api", "hosts": ["*.x.com"], "headers": ["X-V": ["2"]]]])
        let again = try ConfigDocument.read(document.json())
        #expect(again == document)
    }

    @Test func danglingUpstreamIsRefused() throws {
        let document = try Self.document(routes: [["name": "r", "upstream": "missing"]])
        #expect(error(document)?.code == .invalid)
        #expect(error(document)?.field == "upstream")
    }

    @Test func identicalMatchRulesConflictNamingBothRoutes() throws {
        let document = try Self.document(routes: [
            ["name": "one", "upstream": "api", "paths": ["/a", "/b"]],
            ["name": "two", "upstream": "api", "paths": ["/b"]],
        ])
        let conflict = try #require(error(document))
        #expect(conflict.code == .conflict)
        #expect(conflict.message.contains("'one'") && conflict.message.contains("'two'"))
    }

    @Test func templatesWithOtherParameterNamesConflict() throws {
        let document = try Self.document(routes: [
            ["name": "one", "upstream": "api", "paths": ["/recipes/{id}"]],
            ["name": "two", "upstream": "api", "paths": ["/recipes/{slug}"]],
        ])
        #expect(error(document)?.code == .conflict)
        let distinct = try Self.document(routes: [
            ["name": "one", "upstream": "api", "paths": ["/recipes/{id}"]],
            ["name": "two", "upstream": "api", "paths": ["=/recipes/{id}"]],
        ])
        #expect(error(distinct) == nil)
    }

    @Test func routesDifferingInHostMethodOrHeaderDoNotConflict() throws {
        let document = try Self.document(routes: [
            ["name": "a", "upstream": "api", "paths": ["/x"]],
            ["name": "b", "upstream": "api", "paths": ["/x"], "hosts": ["api.example.com"]],
            ["name": "c", "upstream": "api", "paths": ["/x"], "methods": ["POST"]],
            ["name": "d", "upstream": "api", "paths": ["/x"], "headers": ["x-version": ["2"]]],
        ])
        #expect(error(document) == nil)
    }

    @Test func aRouteThatCanNeverMatchIsRefusedNamingWhatShadowsIt() throws {
        // Same header, fewer values, and 'a-all' sorts first: 'b-beta' loses every request to it.
        let shadowed = try Self.document(routes: [
            ["name": "a-all", "upstream": "api", "paths": ["/x"], "methods": ["GET", "POST"], "headers": ["x-tier": ["beta", "gold"]]],
            ["name": "b-beta", "upstream": "api", "paths": ["/x"], "methods": ["GET"], "headers": ["x-tier": ["beta"]]],
        ])
        let conflict = try #require(error(shadowed))
        #expect(conflict.code == .conflict)
        #expect(conflict.message.contains("route 'b-beta' can never match") && conflict.message.contains("'a-all'"))
        #expect(conflict.field == "headers")

        // Each of a route's places taken by a different route still leaves it nothing.
        let split = try Self.document(routes: [
            ["name": "a", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta", "gold"]]],
            ["name": "b", "upstream": "api", "paths": ["/y"], "headers": ["x-tier": ["beta", "gold"]]],
            ["name": "c", "upstream": "api", "paths": ["/x", "/y"], "headers": ["x-tier": ["beta"]]],
        ])
        #expect(error(split)?.message.contains("route 'c' can never match") == true)
    }

    @Test func overlapsThatLeaveEachRouteSomeRequestsAreAllowed() throws {
        let cases: [[JSONValue]] = [
            // The narrower route sorts first: it wins its requests, the wider one keeps the rest.
            [
                ["name": "a-beta", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta"]]],
                ["name": "b-all", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta", "gold"]]],
            ],
            // Values that only overlap: each route has a value of its own.
            [
                ["name": "a", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta", "gold"]]],
                ["name": "b", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["gold", "silver"]]],
            ],
            // Other header names: a request can carry one without the other.
            [
                ["name": "a", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta"]]],
                ["name": "b", "upstream": "api", "paths": ["/x"], "headers": ["x-region": ["eu"]]],
            ],
            // More header rules win first.
            [
                ["name": "a", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta", "gold"]]],
                ["name": "b", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta"], "x-region": ["eu"]]],
            ],
            // A second path the other route does not take.
            [
                ["name": "a", "upstream": "api", "paths": ["/x"], "headers": ["x-tier": ["beta", "gold"]]],
                ["name": "b", "upstream": "api", "paths": ["/x", "/z"], "headers": ["x-tier": ["beta"]]],
            ],
        ]
        for routes in cases {
            #expect(error(try Self.document(routes: routes)) == nil, "\(routes)")
        }
    }

    @Test func twoEnabledPoliciesOfOneTypeAndScopeConflictUnlessTheyAreLimits() throws {
        var document = try Self.document(routes: [["name": "r", "upstream": "api"]])
        let cors: JSONValue = ["allow_origins": ["https://a.example"]]
        document.policies = [
            try Policy.read(["name": "a", "type": "cors", "route": "r", "config": cors], id: Self.uuid(200)),
            try Policy.read(["name": "b", "type": "cors", "config": cors], id: Self.uuid(201)),
        ]
        #expect(error(document) == nil)
        document.policies.append(try Policy.read(["name": "c", "type": "cors", "route": "r", "config": cors], id: Self.uuid(202)))
        #expect(error(document)?.code == .conflict)
        #expect(error(document)?.message.contains("policies 'a' and 'c' are both enabled cors policies for route 'r'") == true)
        document.policies[2].enabled = false
        #expect(error(document) == nil)
        // Limits stack: a rate per second and one per hour on one route, two quotas globally.
        let limit: JSONValue = ["limit": 1, "window": "1s"]
        document.policies += [
            try Policy.read(["name": "d", "type": "rate-limit", "route": "r", "config": limit], id: Self.uuid(203)),
            try Policy.read(["name": "e", "type": "rate-limit", "route": "r", "config": ["limit": 100, "window": "1h"]], id: Self.uuid(204)),
            try Policy.read(["name": "f", "type": "quota", "config": ["limit": 10, "period": "day", "redis_url": "redis://127.0.0.1:6379"]], id: Self.uuid(205)),
            try Policy.read(["name": "g", "type": "quota", "config": ["limit": 100, "period": "month", "redis_url": "redis://127.0.0.1:6379"]], id: Self.uuid(206)),
        ]
        #expect(error(document) == nil)
        // A few windows stack, not thousands: each runs on every request.
        for index in 0..<7 {
            document.policies.append(
                try Policy.read(["name": .string("x\(index)"), "type": "rate-limit", "route": "r", "config": limit], id: Self.uuid(210 + index)))
        }
        #expect(error(document)?.code == .conflict)
        #expect(error(document)?.message.contains("at most 8 enabled rate-limit policies may stack for route 'r'") == true)
    }

    @Test func duplicateNamesConflict() throws {
        var document = try Self.document()
        document.upstreams.append(try Upstream.read(["name": "api"], id: Self.uuid(2)))
        #expect(error(document)?.code == .conflict)
    }

    @Test func renameRewritesReferences() throws {
        var document = try Self.document(routes: [["name": "r", "upstream": "api"]])
        #expect(document.referrers(of: .upstream, named: "api") == ["route 'r'"])
        document.upstreams[0].header.name = "main"
        document.rename(.upstream, from: "api", to: "main")
        #expect(document.routes[0].upstream == "main")
        #expect(error(document) == nil)
    }

    @Test func diffNamesCreatedUpdatedAndDeletedEntities() throws {
        let before = try Self.document(routes: [
            ["name": "keep", "upstream": "api", "paths": ["/k"]], ["name": "gone", "upstream": "api", "paths": ["/g"]],
        ])
        var after = try Self.document(routes: [
            ["name": "keep", "upstream": "api", "paths": ["/k2"]], ["name": "new", "upstream": "api", "paths": ["/n"]],
        ])
        after.sort()
        let diff = ConfigDiff(from: before, to: after)
        #expect(
            diff.changes.map { "\($0.action.rawValue) \($0.name) \($0.fields)" } == [
                "delete gone []", "update keep [\"paths\"]", "create new []",
            ])
    }
}

@Suite struct IDShapedNameRulesTests {
    static let idShaped = "00000000-0000-4000-8000-00000000abcd"

    @Test func anIdWinsOverANameOfTheSameText() throws {
        var document = ConfigDocument()
        document.upstreams = [
            try Upstream.read(["name": .string(Self.idShaped), "targets": [["target": "127.0.0.1:1"]]], id: "00000000-0000-4000-8000-000000000001"),
            try Upstream.read(["name": "real", "targets": [["target": "127.0.0.1:2"]]], id: Self.idShaped),
        ]
        #expect(document.index(of: Upstream.self, Self.idShaped) == 1)
    }

    @Test func onlyNewNamesAreHeldToTheRule() throws {
        var old = ConfigDocument()
        old.upstreams = [try Upstream.read(["name": .string(Self.idShaped), "targets": [["target": "127.0.0.1:1"]]], id: "00000000-0000-4000-8000-000000000001")]
        // A database written before the rule keeps its names.
        try old.validateNewNames(since: old)
        #expect(throws: ConfigError.self) { try old.validateNewNames(since: ConfigDocument()) }
    }
}
