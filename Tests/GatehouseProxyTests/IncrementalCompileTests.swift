import Foundation
import GatehouseModel
import Logging
import Testing

@testable import GatehouseProxy

/// A snapshot compiled with the served config at hand keeps what did not change: the same route
/// and upstream objects, and recompiles only the entities the change concerns.
@Suite struct IncrementalCompileTests {
    static let policies = PolicyState(logger: Logger(label: "test"))
    static let meters = RequestMetrics()

    static func id(_ n: Int) -> String { "00000000-0000-4000-8000-" + String(format: "%012d", n) }

    static func document(routes: Int) throws -> ConfigDocument {
        var document = ConfigDocument()
        document.upstreams = try ["a", "b"].enumerated().map { index, name in
            try Upstream.read(["name": .string(name), "targets": [["target": .string("127.0.0.1:\(9000 + index)")]]], id: id(900 + index))
        }
        document.routes = try (0..<routes).map { index in
            try Route.read(
                ["name": .string("r\(index)"), "paths": [.string("/r\(index)")], "upstream": index % 2 == 0 ? "a" : "b"], id: id(index + 1))
        }
        document.sort()
        return document
    }

    static func compile(_ document: ConfigDocument, version: Int, previous: CompiledConfig?) throws -> CompiledConfig {
        try ConfigCompiler.compile(Snapshot(version: version, document: document), policies: policies, meters: meters, answers: [:], previous: previous)
    }

    static func route(_ config: CompiledConfig, _ path: String) -> (name: String, upstream: String)? {
        guard let match = config.routes.match(host: "any.test", path: path, method: "GET", header: { _ in [] }) else { return nil }
        return (match.entry.route.name, config.upstreams[match.entry.route.upstream].name)
    }

    @Test func aRouteChangeCompilesThatRouteAndKeepsEveryOther() throws {
        var document = try Self.document(routes: 50)
        let v1 = try Self.compile(document, version: 1, previous: nil)
        document.routes[10].paths = ["/moved"]
        document.routes[10].upstream = "b"
        document.routes.removeAll { $0.name == "r20" }
        document.routes.append(try Route.read(["name": "new", "paths": ["/new"], "upstream": "a"], id: Self.id(500)))
        document.sort()
        let v2 = try Self.compile(document, version: 2, previous: v1)

        let before = Dictionary(uniqueKeysWithValues: v1.routes.all.map { ($0.name, $0) })
        let after = Dictionary(uniqueKeysWithValues: v2.routes.all.map { ($0.name, $0) })
        #expect(Set(after.keys) == Set(before.keys).subtracting(["r20"]).union(["new"]))
        let name10 = document.routes.first { $0.paths == ["/moved"] }!.name
        for (name, route) in after where name != name10 && name != "new" {
            #expect(route === before[name], "\(name) was compiled again")
        }
        #expect(after[name10] !== before[name10])
        #expect(zip(v1.upstreams, v2.upstreams).allSatisfy { $0 === $1 })
        // It serves as the whole compile would.
        let whole = try Self.compile(document, version: 2, previous: nil)
        for path in ["/moved", "/new", "/r20", "/r21", "/r10", "/r49/x"] {
            #expect(Self.route(v2, path)?.name == Self.route(whole, path)?.name, "\(path)")
            #expect(Self.route(v2, path)?.upstream == Self.route(whole, path)?.upstream, "\(path)")
        }
        #expect(Self.route(v2, "/moved")?.upstream == "b")
        #expect(Self.route(v2, "/r20") == nil)
    }

    @Test func anUpstreamChangeCompilesThatUpstreamInItsPlace() throws {
        var document = try Self.document(routes: 10)
        let v1 = try Self.compile(document, version: 1, previous: nil)
        document.upstreams[1] = try Upstream.read(
            ["name": "b", "targets": [["target": "127.0.0.1:9100"], ["target": "127.0.0.1:9101"]]], id: Self.id(901))
        let v2 = try Self.compile(document, version: 2, previous: v1)
        #expect(v2.upstreams[0] === v1.upstreams[0])
        #expect(v2.upstreams[1] !== v1.upstreams[1])
        #expect(v2.upstreams[1].endpoints.map(\.description) == ["127.0.0.1:9100", "127.0.0.1:9101"])
        #expect(zip(v1.routes.all, v2.routes.all).allSatisfy { $0 === $1 })
    }

    @Test func whatCanReachEveryRouteCompilesTheWholeSnapshot() throws {
        var document = try Self.document(routes: 10)
        let v1 = try Self.compile(document, version: 1, previous: nil)
        // A policy on every route, or an upstream more (every index after it moves).
        var withPolicy = document
        withPolicy.policies = [try Policy.read(["name": "cors", "type": "cors", "config": ["allow_origins": ["https://a.test"]]], id: Self.id(700))]
        let v2 = try Self.compile(withPolicy, version: 2, previous: v1)
        #expect(zip(v1.routes.all, v2.routes.all).allSatisfy { $0 !== $1 && $1.policies != nil })
        document.upstreams.insert(try Upstream.read(["name": "0", "targets": [["target": "127.0.0.1:9200"]]], id: Self.id(902)), at: 0)
        let v3 = try Self.compile(document, version: 3, previous: v1)
        #expect(zip(v1.routes.all, v3.routes.all).allSatisfy { $0 !== $1 })
        #expect(Self.route(v3, "/r1")?.upstream == "b")
    }
}
