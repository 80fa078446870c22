import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// WebSocket upgrades are tunnelled both ways; other upgrades never reach the upstream.
@Suite struct WebSocketTests {
    static func proxy() async throws -> (ProxyHarness, TestUpstream) {
        let upstream = try await TestUpstream.start()
        return (try await ProxyHarness.routingEverything(to: upstream), upstream)
    }

    @Test func aWebSocketUpgradeBecomesATunnelBothWays() async throws {
        let (proxy, _) = try await Self.proxy()
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        let greeting = try await client.received(containing: "hello")
        #expect(greeting.hasPrefix("HTTP/1.1 101 Switching Protocols"))
        #expect(greeting.lowercased().contains("upgrade: websocket"))
        try await client.send("ping from the client")
        let echoed = try await client.received(containing: "PING FROM THE CLIENT")
        #expect(echoed.hasSuffix("helloPING FROM THE CLIENT"))
        try await client.send(" and again")
        _ = try await client.received(containing: "AND AGAIN")
        await client.close()
    }

    @Test func bytesSentRightBehindTheUpgradeRequestAreTheTunnelsFirst() async throws {
        let (proxy, _) = try await Self.proxy()
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nearly bytes"
        )
        let echoed = try await client.received(containing: "EARLY BYTES")
        #expect(echoed.hasPrefix("HTTP/1.1 101 Switching Protocols"))
        await client.close()
    }

    @Test func anH2cUpgradeIsNotForwardedAndTheConnectionCloses() async throws {
        let (proxy, _) = try await Self.proxy()
        let response = try await rawExchange(
            port: proxy.port,
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        #expect(statusLine(response) == "HTTP/1.1 200 OK")
        #expect(!response.lowercased().contains("\"upgrade\""))
        #expect(!response.lowercased().contains("http2-settings"))
        #expect(response.lowercased().contains("connection: close"))
    }
}
