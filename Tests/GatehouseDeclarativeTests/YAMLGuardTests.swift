import Foundation
import GatehouseModel
import Testing

@testable import GatehouseDeclarative

/// Anchors, aliases and deep nesting are refused before Yams builds a node.
@Suite struct YAMLGuardTests {
    /// `levels` lines, each a list of ten aliases of the line before: 10^levels strings once expanded.
    static func laughs(levels: Int) -> String {
        var lines = ["format_version: 1", #"x0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]"#]
        for level in 1..<levels {
            lines.append("x\(level): &l\(level) [\(Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", "))]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let anchorRefused = "YAML anchors (&name) are not supported; write the value out"

    /// A million laughs: enough to tell, small enough that a regression does not take the test
    /// process's memory (the end-to-end test runs the billion under a memory limit).
    @Test func anAliasBombIsRefusedAtItsFirstAnchorWithLineAndColumn() throws {
        let (source, problems) = try DeclarativeFile(text: Self.laughs(levels: 6)).load()
        #expect(problems == [DeclarativeSource.Problem(file: "gateway.yaml", line: 2, column: 5, message: Self.anchorRefused)])
        #expect(problems.first?.description == "gateway.yaml:2:5: \(Self.anchorRefused)")
        #expect(source.entries.isEmpty)
    }

    /// Yams checks a mapping's keys for duplicates by hashing them whole: a key holding the
    /// expanded levels costs 10^levels steps inside Yams, before any conversion.
    @Test func anAnchoredMappingKeyIsRefusedBeforeYamsHashesIt() throws {
        var levels = [#"&k0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]"#]
        for level in 1..<7 { levels.append("&k\(level) [\(Array(repeating: "*k\(level - 1)", count: 10).joined(separator: ", "))]") }
        let text = "format_version: 1\n? [\(levels.joined(separator: ", "))]\n: 1\n"
        let (_, problems) = try DeclarativeFile(text: text).load()
        #expect(problems == [DeclarativeSource.Problem(file: "gateway.yaml", line: 2, column: 4, message: Self.anchorRefused)])
    }

    @Test func anAliasIsRefusedWhereItIsWritten() throws {
        let text = "format_version: 1\nroutes:\n  - name: r\n    upstream: *main\n"
        let (_, problems) = try DeclarativeFile(text: text).load()
        #expect(
            problems == [
                DeclarativeSource.Problem(
                    file: "gateway.yaml", line: 4, column: 15, message: "YAML aliases (*name) are not supported; write the value out")
            ])
    }

    @Test func nestingDeeperThanTheLimitIsRefused() throws {
        let limit = YAMLGuard.maxDepth
        // The root mapping is the first level, so `limit` brackets go one past it.
        let deep = "format_version: 1\nx: " + String(repeating: "[", count: limit) + String(repeating: "]", count: limit) + "\n"
        let (_, problems) = try DeclarativeFile(text: deep).load()
        // The first [ is at column 4, the one past the limit at 4 + limit - 1.
        #expect(
            problems == [DeclarativeSource.Problem(file: "gateway.yaml", line: 2, column: 3 + limit, message: "nesting deeper than \(limit) levels")])

        let atLimit = "format_version: 1\nx: " + String(repeating: "[", count: limit - 1) + String(repeating: "]", count: limit - 1) + "\n"
        #expect(try DeclarativeFile(text: atLimit).load().problems.map(\.message) == ["unknown field"])
    }

    /// `*` and `&` inside values are text: only a node's anchor or an alias is refused.
    @Test func starsAndAmpersandsInValuesAreText() throws {
        let text = """
            format_version: 1
            upstreams:
              - { name: api, targets: [{ target: "127.0.0.1:9000" }] }
            routes:
              - name: wild
                hosts: ["*.example.com"]
                paths: [/a&b, /c*d]
                upstream: api
            policies:
              - { name: cors, type: cors, route: wild, config: { allow_origins: ["https://*.example.com"] } }
            consumers:
              - name: star
                custom_id: a *b &c

            """
        let (source, problems) = try DeclarativeFile(text: text).load()
        #expect(problems == [])
        #expect(source.check().problems == [])
        let route = source.entries.first { $0.name == "wild" }?.value
        #expect(route?["paths"] == ["/a&b", "/c*d"])
        #expect(source.entries.first { $0.name == "star" }?.value["custom_id"] == "a *b &c")
    }
}
