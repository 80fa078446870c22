import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// Passive health: targets that fail are left out of rotation for their cool-down.
@Suite struct PassiveHealthTests {
    @Test func aFailingTargetIsEjectedAndTrafficGoesToTheHealthyOne() async throws {
        let alive = try await TestUpstream.start(name: "alive")
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                [
                    // No failover, so the one failed attempt shows.
                    "name": "u", "retries": 0, "health_checks": ["passive": ["failures": 1, "cooldown": "1h"]],
                    // Port 1 has no listener: connecting is refused.
                    "targets": [["target": "127.0.0.1:1"], ["target": .string(alive.target)]],
                ]
            ], routes: [["name": "all", "upstream": "u"]])
        var statuses: [Int] = []
        for _ in 0..<6 { statuses.append(try await httpRequest(port: proxy.port, .GET, "/").status) }
        // Round-robin sends one of the first two requests to the dead target; then it is out.
        #expect(statuses.prefix(2).sorted() == [200, 502])
        #expect(statuses.dropFirst(2).allSatisfy { $0 == 200 })
    }

    @Test func withEveryTargetEjectedTheAnswerIs503() async throws {
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                [
                    "name": "u", "health_checks": ["passive": ["failures": 2, "cooldown": "1h"]], "targets": [["target": "127.0.0.1:1"]],
                ]
            ], routes: [["name": "all", "upstream": "u"]])
        var statuses: [Int] = []
        for _ in 0..<3 { statuses.append(try await httpRequest(port: proxy.port, .GET, "/").status) }
        #expect(statuses == [502, 502, 503])
    }

    @Test func healthSurvivesASwapThatKeepsTheUpstream() async throws {
        let alive = try await TestUpstream.start(name: "alive")
        let proxy = try await ProxyHarness.start()
        let upstreams: [JSONValue] = [
            [
                "name": "u", "health_checks": ["passive": ["failures": 1, "cooldown": "1h"]],
                "targets": [["target": "127.0.0.1:1"], ["target": .string(alive.target)]],
            ]
        ]
        try proxy.apply(version: 1, upstreams: upstreams, routes: [["name": "all", "upstream": "u"]])
        _ = try await httpRequest(port: proxy.port, .GET, "/")
        _ = try await httpRequest(port: proxy.port, .GET, "/")
        try proxy.apply(
            version: 2, upstreams: upstreams, routes: [["name": "all", "upstream": "u"], ["name": "more", "paths": ["/more"], "upstream": "u"]])
        for _ in 0..<4 { #expect(try await httpRequest(port: proxy.port, .GET, "/").status == 200) }
    }
}

/// Active health: probes take a failing target out of rotation and bring it back.
@Suite struct ActiveHealthTests {
    @Test func probesTakeAFailingTargetOutAndBringItBack() async throws {
        let steady = try await TestUpstream.start(name: "steady")
        let flaky = try await TestUpstream.start(name: "flaky")
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                [
                    // A long probe timeout: with `unhealthy: 1`, one probe of the steady target slowed
                    // by the whole suite's load must not take it out.
                    "name": "u",
                    "health_checks": ["active": ["path": "/health", "interval": "50ms", "timeout": "10s", "healthy": 1, "unhealthy": 1]],
                    "targets": [["target": .string(steady.target)], ["target": .string(flaky.target)]],
                ]
            ], routes: [["name": "all", "upstream": "u"]])
        flaky.setHealthStatus(503)
        try await waitUntil("the flaky target to be taken out") { proxy.health.ejected() == ["u|\(flaky.target)"] }
        for _ in 0..<4 { #expect(try await httpRequest(port: proxy.port, .GET, "/").json["server"] == "steady") }

        flaky.setHealthStatus(200)
        try await waitUntil("the flaky target to be back") { proxy.health.ejected().isEmpty }
        var servers: Set<String> = []
        for _ in 0..<4 { servers.insert(try await httpRequest(port: proxy.port, .GET, "/").json["server"]?.stringValue ?? "") }
        #expect(servers == ["steady", "flaky"])

        // A config without the check stops the probes and releases the target.
        flaky.setHealthStatus(503)
        try await waitUntil("the flaky target to be taken out again") { !proxy.health.ejected().isEmpty }
        try proxy.apply(
            version: 2,
            upstreams: [
                [
                    "name": "u", "targets": [["target": .string(steady.target)], ["target": .string(flaky.target)]],
                ]
            ], routes: [["name": "all", "upstream": "u"]])
        #expect(proxy.health.ejected().isEmpty)
    }
}
