import Foundation
import Testing

@testable import GatehouseModel

/// `isValidChange(from:)` proves a small change valid without validating the whole document
/// again; it must never say so of a document `validate()` refuses.
@Suite struct ChangeValidationTests {
    static func id(_ n: Int) -> String { "00000000-0000-4000-8000-" + String(format: "%012d", n) }

    static func route(_ name: String, id: Int, _ fields: [String: JSONValue]) throws -> Route {
        var json: [String: JSONValue] = ["name": .string(name), "upstream": "u"]
        json.merge(fields) { _, new in new }
        return try Route.read(.object(json), id: Self.id(id))
    }

    static func base() throws -> ConfigDocument {
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(["name": "u", "targets": [["target": "127.0.0.1:9000"]]], id: id(900))]
        document.routes = try (0..<20).map { index in try route("r\(index)", id: index + 1, ["paths": [.string("/r\(index)")]]) }
        document.routes.append(try route("hosted", id: 100, ["hosts": ["a.test"], "paths": ["/x"], "headers": ["x-v": ["1", "2"]]]))
        document.policies = [
            try Policy.read(["name": "limit", "type": "rate-limit", "route": "r3", "config": ["limit": 5, "window": "1s"]], id: id(800))
        ]
        document.sort()
        try document.validate()
        return document
    }

    static func changed(_ change: (inout ConfigDocument) throws -> Void) throws -> (old: ConfigDocument, new: ConfigDocument) {
        let old = try base()
        var new = old
        try change(&new)
        new.sort()
        return (old, new)
    }

    @Test func aRouteCreatedChangedOrDeletedAloneIsProvenValid() throws {
        for change in [
            { (d: inout ConfigDocument) throws in d.routes.append(try Self.route("new", id: 500, ["paths": ["/new"]])) },
            { (d: inout ConfigDocument) throws in d.routes[5].paths = ["/moved"] },
            { (d: inout ConfigDocument) throws in d.routes.removeAll { $0.name == "r7" } },
            { (d: inout ConfigDocument) throws in d.upstreams[0].retries = 2 },
        ] {
            let (old, new) = try Self.changed(change)
            #expect(new.isValidChange(from: old))
            try new.validate()
        }
    }

    @Test func whatTheWholeValidationWouldRefuseIsNeverProvenValid() throws {
        let refused: [(String, (inout ConfigDocument) throws -> Void)] = [
            ("the same requests as r4", { $0.routes.append(try Self.route("dup", id: 501, ["paths": ["/r4"]])) }),
            ("moved onto r2", { $0.routes[9].paths = ["/r2"] }),
            (
                "shadowed for ever",
                {
                    $0.routes.append(
                        try Self.route("a-first", id: 502, ["hosts": ["a.test"], "paths": ["/x"], "headers": ["x-v": ["1", "2", "3"]]]))
                }
            ),
            ("no such upstream", { $0.routes.append(try Self.route("lost", id: 503, ["paths": ["/lost"], "upstream": "nowhere"])) }),
            ("an id in use", { $0.routes.append(try Self.route("twin", id: 900, ["paths": ["/twin"]])) }),
            ("a route a policy names", { $0.routes.removeAll { $0.name == "r3" } }),
            ("a name twice", { $0.routes.append(try Self.route("r1", id: 504, ["paths": ["/other"]])) }),
        ]
        for (what, change) in refused {
            let (old, new) = try Self.changed(change)
            #expect(!new.isValidChange(from: old), "\(what)")
            #expect(throws: ConfigError.self, "\(what)") { try new.validate() }
        }
        // Changes it does not prove: consumers or policies, an upstream more.
        for change in [
            { (d: inout ConfigDocument) throws in d.policies[0].enabled = false },
            { (d: inout ConfigDocument) throws in d.consumers.append(try Consumer.read(["name": "c"], id: Self.id(700))) },
            { (d: inout ConfigDocument) throws in
                d.upstreams.append(try Upstream.read(["name": "v", "targets": [["target": "127.0.0.1:1"]]], id: Self.id(901)))
            },
        ] {
            let (old, new) = try Self.changed(change)
            #expect(!new.isValidChange(from: old))
        }
    }

    @Test func randomChangesNeverPassWhereTheWholeValidationFails() throws {
        var generator = SystemRandomNumberGenerator()
        let paths = ["/a", "/b", "/a/{id}", "/a/{x}", "/c/d"]
        let hosts = ["a.test", "b.test", "*.test"]
        var proven = 0
        for step in 0..<300 {
            var document = try Self.base()
            let old = document
            var fields: [String: JSONValue] = [
                "paths": .array(paths.shuffled(using: &generator).prefix(Int.random(in: 0...2, using: &generator)).map(JSONValue.string))
            ]
            if Bool.random(using: &generator) { fields["hosts"] = [.string(hosts.randomElement(using: &generator)!)] }
            if Bool.random(using: &generator) { fields["methods"] = ["GET"] }
            if Bool.random(using: &generator) {
                fields["headers"] = ["x-v": .array(["1", "2", "3"].prefix(Int.random(in: 1...3, using: &generator)).map(JSONValue.string))]
            }
            let name = Bool.random(using: &generator) ? "r\(Int.random(in: 0..<20, using: &generator))" : "new\(step)"
            document.routes.removeAll { $0.name == name }
            document.routes.append(try Self.route(name, id: 1000 + step, fields))
            document.sort()
            var valid = true
            do { try document.validate() } catch { valid = false }
            if document.isValidChange(from: old) {
                #expect(valid, "\(fields) as \(name)")
                proven += 1
            }
        }
        #expect(proven > 0)
    }
}
