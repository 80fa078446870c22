import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// Targets given as DNS names, resolved by the real process against a real name server (dnsmasq,
/// TTL 1 s) given with `--dns-resolver`.
@Suite struct ServiceDiscoveryTests {
    /// The upstreams that answered `count` requests, by name.
    static func servers(_ gatehouse: GatehouseProcess, _ count: Int) async throws -> Set<String> {
        var names: Set<String> = []
        for _ in 0..<count {
            let response = try await httpRequest(port: gatehouse.ports.proxy, .GET, "/")
            guard response.status == 200, let name = response.json["server"]?.stringValue else {
                throw TimedOut(description: "request failed: \(response.status) \(response.text)")
            }
            names.insert(name)
        }
        return names
    }

    @Test func aNamedTargetFollowsItsAddressRecordsWithoutAConfigChange() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try await TestUpstream.start(name: "first")
        // Same port, another loopback address: only DNS tells them apart.
        let second = try await TestUpstream.start(name: "second", host: "127.0.0.2", port: first.port)
        defer { withExtendedLifetime(second) {} }
        let names = try await TestNameServer.start(hosts: [("127.0.0.1", "api.test")])
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--dns-resolver", names.address])
        defer { gatehouse.stop() }
        let created = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/upstreams", json: ["name": "api", "targets": [["target": .string("api.test:\(first.port)")]]])
        #expect(created.status == 201)
        #expect(try await httpRequest(port: gatehouse.ports.admin, .POST, "/routes", json: ["name": "all", "upstream": "api"]).status == 201)
        try await gatehouse.waitForConfigVersion(2)

        let answered = try await httpRequest(port: gatehouse.ports.proxy, .GET, "/")
        #expect(answered.json["server"] == "first")
        // The upstream sees the name, not the address.
        #expect(answered.json["headers"]?["host"] == [.string("api.test:\(first.port)")])
        let status = try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json
        #expect(status["upstreams"]?["api"] == [.string("127.0.0.1:\(first.port) (api.test)")])

        try await names.setHosts([("127.0.0.2", "api.test")])
        try await waitUntil("traffic to follow the new address") { try await Self.servers(gatehouse, 1) == ["second"] }
        #expect(try await Self.servers(gatehouse, 10) == ["second"])

        try await names.setHosts([("127.0.0.1", "api.test"), ("127.0.0.2", "api.test")])
        try await waitUntil("both addresses in rotation") { try await Self.servers(gatehouse, 4) == ["first", "second"] }
        // No new version: the addresses changed, not the config.
        #expect(try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json["config_version"] == 2)

        // The name server going away leaves the last addresses serving.
        names.stop()
        try await waitUntil("a failed lookup", deadline: .seconds(30)) {
            (try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json["dns_failed_lookups"]?.intValue ?? 0) > 0
        }
        #expect(try await Self.servers(gatehouse, 4) == ["first", "second"])
    }

    @Test func aServiceNameSpreadsOverItsSRVRecordsAndFollowsThem() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let a = try await TestUpstream.start(name: "a")
        let b = try await TestUpstream.start(name: "b")
        let records: [TestNameServer.Service] = [
            .init(name: "_api._tcp.svc.test", target: "a.test", port: a.port), .init(name: "_api._tcp.svc.test", target: "b.test", port: b.port),
        ]
        let names = try await TestNameServer.start(hosts: [("127.0.0.1", "a.test"), ("127.0.0.1", "b.test")], services: records)
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--dns-resolver", names.address])
        defer { gatehouse.stop() }
        let created = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/upstreams", json: ["name": "api", "targets": [["target": "_api._tcp.svc.test"]]])
        #expect(created.status == 201)
        #expect(created.json["targets"]?.arrayValue?.first?["target"] == "_api._tcp.svc.test")
        #expect(try await httpRequest(port: gatehouse.ports.admin, .POST, "/routes", json: ["name": "all", "upstream": "api"]).status == 201)
        try await gatehouse.waitForConfigVersion(2)
        #expect(try await Self.servers(gatehouse, 4) == ["a", "b"])

        try await names.restart(services: [records[1]])
        try await waitUntil("traffic to leave the removed record") { try await Self.servers(gatehouse, 4) == ["b"] }
    }

    @Test func aServiceNameWithAPortIsRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let refused = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/upstreams", json: ["name": "api", "targets": [["target": "_api._tcp.svc.test:80"]]])
        #expect(refused.status == 400)
        #expect(refused.json["error"]?["field"] == "targets[0].target")
    }
}
