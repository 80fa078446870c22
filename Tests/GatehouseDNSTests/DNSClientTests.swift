import GatehouseTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import GatehouseDNS

/// The client against a real name server (dnsmasq).
@Suite struct DNSClientTests {
    static func client(port: Int, timeout: TimeAmount = .seconds(2), attempts: Int = 2) throws -> DNSClient {
        DNSClient(
            servers: [try SocketAddress(ipAddress: "127.0.0.1", port: port)], group: MultiThreadedEventLoopGroup.singleton,
            timeout: timeout, attempts: attempts)
    }

    @Test func addressesAndServicesAreAnswered() async throws {
        let server = try await TestNameServer.start(
            hosts: [("127.0.0.7", "api.test"), ("127.0.0.8", "api.test")],
            services: [.init(name: "_api._tcp.svc.test", target: "api.test", port: 8081, priority: 1, weight: 20)])
        let client = try Self.client(port: server.port)
        let addresses = try await client.ask("API.test", .a)
        #expect(addresses.responseCode == 0)
        #expect(Set(addresses.answers.map(\.data)) == [.address("127.0.0.7"), .address("127.0.0.8")])
        let services = try await client.ask("_api._tcp.svc.test", .srv)
        #expect(services.answers.map(\.data) == [.service(priority: 1, weight: 20, port: 8081, target: "api.test")])
    }

    @Test func anUnknownNameIsAnAnswerNotAFailure() async throws {
        let server = try await TestNameServer.start(hosts: [("127.0.0.7", "api.test")])
        let answer = try await Self.client(port: server.port).ask("nope.test", .a)
        #expect(answer.responseCode == DNSMessage.nameError)
        #expect(answer.answers.isEmpty)
    }

    @Test func aServerThatDoesNotAnswerFailsAfterTheTimeout() async throws {
        // A bound UDP socket that never answers.
        let silent = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let client = try Self.client(port: silent.localAddress!.port!, timeout: .milliseconds(100), attempts: 1)
        await #expect(throws: DNSClient.Failure.self) { try await client.ask("api.test", .a) }
    }
}
