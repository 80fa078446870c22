import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseDeclarative

@Suite struct DeclarativeSchemaTests {
    @Test func thePublishedSchemaIsTheOneTheBinaryCarries() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let published = try Data(contentsOf: root.appendingPathComponent("Schema/declarative.schema.json"))
        #expect(try JSONValue.parse(published) == DeclarativeSchema.value)
    }

    @Test func theSchemaNamesEachViolationByPath() throws {
        var check = SchemaCheck(root: DeclarativeSchema.value)
        let violations = check.check([
            "format_version": 2,
            "routes": [["name": "Bad Name", "upstream": "u", "strip_path": "yes"], ["upstream": "u"]],
            "upstreams": [["name": "u", "retries": 11, "timeouts": ["read": "soon"], "targets": [["target": "a:1", "weight": -1]]]],
            "listeners": [],
        ])
        let byPath = Dictionary(violations.map { ($0.path, $0.message) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["format_version"] == "must be 1")
        #expect(byPath["listeners"] == "unknown field")
        #expect(byPath["routes[0].name"]?.contains("does not match") == true)
        #expect(byPath["routes[0].strip_path"] == "expected boolean, got string")
        #expect(byPath["routes[1].name"] == "is required")
        #expect(byPath["upstreams[0].retries"] == "must be at most 10")
        #expect(byPath["upstreams[0].timeouts.read"]?.contains("does not match") == true)
        #expect(byPath["upstreams[0].targets[0].weight"] == "must be at least 0")
        #expect(violations.count == 8)
    }

    @Test func aFullDocumentPassesTheSchemaAndTheModel() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try """
        format_version: 1
        upstreams:
          - name: api
            targets: [{ target: "api.internal:8080", weight: 50 }, { target: "_http._tcp.api.service.consul" }]
            scheme: https
            algorithm: consistent-hash
            hash_on: header:x-user
            timeouts: { connect: 2s, read: 30s, write: 30s }
            retries: 2
            pool: { max_connections: 100, max_idle: 10, idle_timeout: 30s }
            tls: { verify: true, server_name: api.internal }
            health_checks:
              passive: { failures: 5, cooldown: 10s }
              active: { path: /health, interval: 5s, timeout: 1s, healthy: 2, unhealthy: 3 }
        routes:
          - { name: items, hosts: ["*.example.com"], paths: ["/items/{id}"], methods: [GET], headers: { x-v: ["2"] }, upstream_path: "/v2/items/{id}", upstream: api, tags: [team-a] }
        consumers:
          - { name: partner, custom_id: p-1, groups: [gold], credentials: [{ type: key-auth, key_hash: "\(String(repeating: "ab", count: 32))" }] }
        policies:
          - { name: limit, type: rate-limit, enabled: false, route: items, consumer: partner, config: { limit: 100, window: 1m } }
          - name: items-validation
            type: request-validation
            route: items
            config:
              parameters: [{ name: id, in: path, schema: { type: integer, minimum: 1 } }]
              body: { max_bytes: 4096, schema: { type: object, required: [name], additionalProperties: false, properties: { name: { type: string } } } }

        """.write(toFile: dir.file("all.yaml"), atomically: true, encoding: .utf8)
        let (source, problems) = DeclarativeSource.load([dir.path], environment: [:])
        #expect(problems == [])
        let (document, checked) = source.check()
        #expect(checked == [])
        #expect(document?.routes.first?.upstreamPath == "/v2/items/{id}")
        #expect(document?.policies.first { $0.name == "items-validation" }?.config["body"]?["max_bytes"] == 4096)
    }
}
