import Foundation
import GatehouseModel
import GatehouseTestSupport
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import GatehouseProxy

/// Against a real name server (dnsmasq), answering with a TTL of 1 s.
@Suite struct TargetDiscoveryTests {
    typealias Question = TargetDiscovery.Question

    static func discovery(_ server: TestNameServer) throws -> TargetDiscovery {
        TargetDiscovery(
            servers: [try SocketAddress(ipAddress: "127.0.0.1", port: server.port)], group: MultiThreadedEventLoopGroup.singleton,
            hostsFile: "/dev/null", logger: Logger(label: "test"))
    }

    static func addresses(_ discovery: TargetDiscovery, _ question: Question) -> [String] {
        (discovery.answers[question] ?? []).map { found in found.port.map { "\(found.address):\($0)" } ?? found.address }.sorted()
    }

    @Test func namesAndAliasesResolveAndFollowTheirRecordsWhenTheyChange() async throws {
        let server = try await TestNameServer.start(
            hosts: [("127.0.0.1", "api.test"), ("127.0.0.2", "api.test")], aliases: [(alias: "www.test", name: "api.test")])
        let discovery = try Self.discovery(server)
        let api = Question(name: "api.test", service: false)
        let www = Question(name: "www.test", service: false)
        await discovery.prepare([api, www])
        #expect(Self.addresses(discovery, api) == ["127.0.0.1", "127.0.0.2"])
        #expect(Self.addresses(discovery, www) == ["127.0.0.1", "127.0.0.2"])

        let changes = ChangeCounter()
        let refreshing = Task { await discovery.run { changes.increment() } }
        defer { refreshing.cancel() }
        try await server.setHosts([("127.0.0.3", "api.test")])
        try await waitUntil("the new address after the TTL ran out") { Self.addresses(discovery, api) == ["127.0.0.3"] }
        try await waitUntil("the alias to follow") { Self.addresses(discovery, www) == ["127.0.0.3"] }
        // The callback comes once the whole round is done, just after the answers change.
        try await waitUntil("the change to be announced") { changes.value >= 1 }

        // A name that no longer exists is an answer: no addresses.
        try await server.setHosts([("127.0.0.3", "other.test")])
        try await waitUntil("the name to be gone") { discovery.answers[api] == [] }
    }

    @Test func serviceRecordsGiveHostsPortsAndWeightsOfTheLowestPriority() async throws {
        let server = try await TestNameServer.start(
            hosts: [("127.0.0.1", "a.test"), ("127.0.0.2", "b.test"), ("127.0.0.9", "backup.test")],
            services: [
                .init(name: "_api._tcp.svc.test", target: "a.test", port: 8081, weight: 10),
                .init(name: "_api._tcp.svc.test", target: "b.test", port: 8082, weight: 30),
                .init(name: "_api._tcp.svc.test", target: "backup.test", port: 8089, priority: 5),
            ])
        let discovery = try Self.discovery(server)
        let service = Question(name: "_api._tcp.svc.test", service: true)
        await discovery.prepare([service])
        let found = (discovery.answers[service] ?? []).sorted { $0.port ?? 0 < $1.port ?? 0 }
        #expect(found.map(\.address) == ["127.0.0.1", "127.0.0.2"])
        #expect(found.map(\.port) == [8081, 8082])
        #expect(found.map(\.weight) == [10, 30])
        #expect(found.map(\.name) == ["a.test", "b.test"])
    }

    @Test func aServerThatStopsAnsweringLeavesTheLastAddressesInUse() async throws {
        let server = try await TestNameServer.start(hosts: [("127.0.0.1", "api.test")])
        let discovery = try Self.discovery(server)
        let api = Question(name: "api.test", service: false)
        await discovery.prepare([api])
        #expect(Self.addresses(discovery, api) == ["127.0.0.1"])
        server.stop()
        let refreshing = Task { await discovery.run {} }
        defer { refreshing.cancel() }
        try await waitUntil("a failed lookup", deadline: .seconds(30)) { discovery.failedLookups > 0 }
        #expect(Self.addresses(discovery, api) == ["127.0.0.1"])
    }

    @Test func questionsTheServedConfigNoLongerNeedsAreForgotten() async throws {
        let server = try await TestNameServer.start(hosts: [("127.0.0.1", "a.test"), ("127.0.0.2", "b.test")])
        let discovery = try Self.discovery(server)
        let a = Question(name: "a.test", service: false)
        let b = Question(name: "b.test", service: false)
        await discovery.prepare([a, b])
        discovery.retain([b])
        #expect(discovery.answers[a] == nil)
        #expect(Self.addresses(discovery, b) == ["127.0.0.2"])
    }

    @Test func theHostsFileIsReadBeforeAnyServer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "127.0.0.7 pinned.test\n".write(toFile: directory.file("hosts"), atomically: true, encoding: .utf8)
        // No server at all: only the file can answer.
        let discovery = TargetDiscovery(
            servers: [try SocketAddress(ipAddress: "127.0.0.1", port: 9)], group: MultiThreadedEventLoopGroup.singleton,
            hostsFile: directory.file("hosts"), logger: Logger(label: "test"))
        let pinned = Question(name: "pinned.test", service: false)
        await discovery.prepare([pinned])
        #expect(Self.addresses(discovery, pinned) == ["127.0.0.7"])
    }

    @Test func targetsExpandToOneEndpointPerAddressNamedForHostAndSNI() {
        let answers: [Question: [TargetDiscovery.Address]] = [
            Question(name: "api.test", service: false): [
                .init(address: "10.0.0.1", port: nil, weight: nil, name: "api.test"),
                .init(address: "10.0.0.2", port: nil, weight: nil, name: "api.test"),
            ],
            Question(name: "_web._tcp.test", service: true): [.init(address: "10.0.0.3", port: 8443, weight: 7, name: "web1.test")],
        ]
        let targets = [
            UpstreamTarget(host: "api.test", port: 80, weight: 50), UpstreamTarget(host: "_web._tcp.test", port: 0),
            UpstreamTarget(host: "10.0.0.9", port: 9000), UpstreamTarget(host: "unresolved.test", port: 8080),
            UpstreamTarget(host: "_none._tcp.test", port: 0), UpstreamTarget(host: "off.test", port: 80, weight: 0),
        ]
        let endpoints = UpstreamEndpoint.expand(targets, answers: answers)
        #expect(
            endpoints.map(\.description) == [
                "10.0.0.1:80 (api.test)", "10.0.0.2:80 (api.test)", "10.0.0.3:8443 (web1.test)", "10.0.0.9:9000",
                "unresolved.test:8080 (unresolved.test)",
            ])
        #expect(endpoints.map(\.authority) == ["api.test", "api.test", "web1.test:8443", "10.0.0.9:9000", "unresolved.test:8080"])
        #expect(endpoints.map(\.weight) == [50, 50, 7, 100, 100])
    }
}

final class ChangeCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
