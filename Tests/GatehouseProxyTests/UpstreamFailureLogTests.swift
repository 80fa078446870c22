import GatehouseModel
import GatehouseTestSupport
import Logging
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// An upstream failure reaches the log with what the client is not told: the target that
/// failed, the cause, and the request's id to find it by.
@Suite struct UpstreamFailureLogTests {
    @Test func aRefusedConnectionIsLoggedWithItsTargetAndRequestID() async throws {
        let log = RecordedLog()
        let proxy = try await ProxyHarness.start(logger: log.logger)
        // Port 1 has no listener: connecting is refused.
        try proxy.apply(version: 1, upstreams: [["name": "u", "targets": [["target": "127.0.0.1:1"]]]], routes: [["name": "all", "upstream": "u"]])
        let response = try await httpRequest(port: proxy.port, .GET, "/")
        #expect(response.status == 502)
        let failures = log.all.filter { $0.metadata["code"] == "upstream_unreachable" }
        try #require(failures.count == 1)
        let failure = failures[0]
        #expect(failure.level == .warning)
        #expect(failure.message == "upstream 'u' refused the connection")
        #expect(failure.metadata["upstream"] == "u")
        #expect(failure.metadata["target"] == "127.0.0.1:1")
        #expect(failure.metadata["request_id"] == response.header("x-request-id"))
        #expect(failure.metadata["cause"]?.isEmpty == false)
    }

    @Test func noHealthyTargetIsLoggedWithoutATarget() async throws {
        let log = RecordedLog()
        let proxy = try await ProxyHarness.start(logger: log.logger)
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": "127.0.0.1:1", "weight": 0]]]], routes: [["name": "all", "upstream": "u"]])
        #expect(try await httpRequest(port: proxy.port, .GET, "/", headers: [("x-request-id", "req-7")]).status == 503)
        let failure = try #require(log.all.first { $0.metadata["code"] == "no_healthy_target" })
        #expect(failure.metadata["request_id"] == "req-7")
        #expect(failure.metadata["target"] == nil)
        #expect(failure.metadata["attempts"] == "0")
    }

    @Test func anUpstreamThatDiesMidResponseIsLogged() async throws {
        let log = RecordedLog()
        // Promises 100 bytes, sends 5, and closes.
        let upstream = try await RawUpstream.start { _ in .init(["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello"], close: true) }
        let proxy = try await ProxyHarness.start(logger: log.logger)
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]], routes: [["name": "all", "upstream": "u"]])
        let connection = try await RawConnection.open(port: proxy.port)
        try await connection.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let received = await connection.receivedUntilClosed(deadline: .seconds(10))
        #expect(received.hasPrefix("HTTP/1.1 200 OK"))
        let failure = try #require(log.all.first { $0.metadata["code"] == "upstream_failed" })
        #expect(failure.message == "upstream 'u' failed after its response had started")
        #expect(failure.metadata["target"] == upstream.target)
    }
}
