import GatehouseModel
import GatehouseTestSupport
import NIOCore
import Testing

@testable import GatehouseProxy

/// Requests and responses after which the gateway and its peer could disagree on where the next
/// message starts (found by a hostile review): the framing fields always cross, and a connection
/// whose next bytes are uncertain closes.
@Suite struct MessageBoundaryTests {
    /// The status lines of a raw response stream, in order.
    static func statuses(_ response: String) -> [String] {
        response.matches(of: /HTTP\/1\.1 \d{3}/).map { String(response[$0.range]) }
    }

    @Test func aContentLengthNamedInConnectionStillFramesTheBodyUpstream() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        // Dropped as a field `Connection` names, the length would leave the body to be read by
        // the upstream as a request of its own, past routing and policies.
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        let response = try await rawExchange(
            port: proxy.port,
            "POST /echo HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)"
                + "GET /echo/after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(Self.statuses(response) == ["HTTP/1.1 200", "HTTP/1.1 200"], "\(response)")
        #expect(response.contains("\"body_bytes\":\(smuggled.utf8.count)"), "\(response)")
        #expect(response.contains("\"content-length\":[\"\(smuggled.utf8.count)\"]"), "\(response)")
        #expect(!response.contains("/smuggled\""), "\(response)")
        #expect(upstream.connectionCount == 1)
    }

    @Test func aContentLengthNamedInConnectionStillFramesTheResponse() async throws {
        let upstream = try await RawUpstream.start { _ in
            RawUpstream.Reply(["HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello"])
        }
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target)
        let response = try await rawExchange(
            port: proxy.port, "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        // Each body framed: the client can tell where the first response ends.
        #expect(Self.statuses(response) == ["HTTP/1.1 200", "HTTP/1.1 200"], "\(response)")
        #expect(response.lowercased().matches(of: /\r\ncontent-length: 5\r\n/).count == 2, "\(response)")
        #expect(response.hasSuffix("\r\n\r\nhello"))
    }

    @Test func aBodyNeverAskedForClosesTheConnectionAfterTheGatewaysAnswer() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/bytes"], "upstream": "u"]])
        // Answered 404 before any 100 Continue, the client may skip its body (RFC 9110 §10.1.1)
        // and send its next request: read as the body, that request's first bytes would be
        // lost and the rest read as a request.
        let response = try await rawExchange(
            port: proxy.port,
            "POST /nowhere HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n"
                + "GET /bytes/nowhere-eaten HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(Self.statuses(response) == ["HTTP/1.1 404"], "\(response)")
        #expect(response.lowercased().contains("\r\nconnection: close\r\n"))
        #expect(upstream.connectionCount == 0)
    }

    @Test func aBodyToldToComeKeepsTheConnection() async throws {
        let proxy = try await ProxyHarness.routingEverything(to: try await TestUpstream.start())
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        _ = try await client.received(containing: "HTTP/1.1 100 Continue\r\n\r\n")
        try await client.send("helloGET /bytes/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let response = await client.receivedUntilClosed(deadline: .seconds(10))
        #expect(Self.statuses(response) == ["HTTP/1.1 100", "HTTP/1.1 200", "HTTP/1.1 200"], "\(response)")
        #expect(response.hasSuffix("\r\n\r\nxxx"))
    }

    @Test func theGatewaysAnswerToAnUpgradeRequestClosesTheConnection() async throws {
        let proxy = try await ProxyHarness.start()
        // No HTTP is read behind an upgrade request: a request sent after it would hang.
        let response = try await rawExchange(
            port: proxy.port,
            "GET /nowhere HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
            deadline: .seconds(10))
        #expect(Self.statuses(response) == ["HTTP/1.1 503"], "\(response)")
        #expect(response.lowercased().contains("\r\nconnection: close\r\n"))
    }

    @Test func anUpstreamsUnaskedSwitchAnsweredByTheGatewayClosesTheConnection() async throws {
        // h2c is not forwarded; an upstream switching anyway is answered 502 by the gateway.
        let upstream = try await RawUpstream.start { _ in
            RawUpstream.Reply(["HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"])
        }
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target)
        let response = try await rawExchange(
            port: proxy.port,
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
                + "GET /after HTTP/1.1\r\nHost: a\r\n\r\n",
            deadline: .seconds(10))
        #expect(Self.statuses(response) == ["HTTP/1.1 502"], "\(response)")
        #expect(response.lowercased().contains("\r\nconnection: close\r\n"))
    }
}
