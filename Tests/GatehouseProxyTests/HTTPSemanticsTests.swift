import GatehouseHTTP1
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// Message framing the proxy must keep right: bodiless responses, HTTP/1.0 clients, and
/// `Expect: 100-continue`.
@Suite struct HTTPSemanticsTests {
    static func proxy() async throws -> ProxyHarness {
        try await ProxyHarness.routingEverything(to: try await TestUpstream.start())
    }

    @Test func headAnd204And304HaveNoBodyAndTheConnectionStaysUsable() async throws {
        let proxy = try await Self.proxy()
        let response = try await rawExchange(
            port: proxy.port,
            "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /status/204 HTTP/1.1\r\nHost: a\r\n\r\nGET /status/304 HTTP/1.1\r\nHost: a\r\n\r\nGET /bytes/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        let statuses = response.split(separator: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }.map { String($0.prefix(12)) }
        #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 204", "HTTP/1.1 304", "HTTP/1.1 200"])
        // Only the last response has a body, and it is exactly its three bytes.
        #expect(response.hasSuffix("\r\n\r\nxxx"))
        #expect(!response.contains("0\r\n\r\nHTTP"))
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWhateverAnswersThem() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1, upstreams: [["name": "u", "targets": [["target": .string(upstream.target)]]]],
            routes: [["name": "api", "paths": ["/hold", "/sink", "/bytes"], "upstream": "u"]])
        let connection = try await RawConnection.open(port: proxy.port)
        // A slow first request, a POST with a body, one the gateway answers itself (no route),
        // and a last one asking to close: all sent at once.
        try await connection.send(
            "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /bytes/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        try await waitUntil("the first request to reach the upstream") { upstream.heldCount == 1 }
        upstream.release()
        let response = await connection.receivedUntilClosed(deadline: .seconds(10))
        // Bodies end without a line break, so status lines are found wherever they start.
        let statuses = response.matches(of: /HTTP\/1\.1 \d{3}/).map { String(response[$0.range]) }
        #expect(statuses == ["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 404", "HTTP/1.1 200"])
        #expect(response.contains("\"body_bytes\":5"))
        #expect(response.hasSuffix("\r\n\r\nxxx"))
    }

    @Test func moreRequestsSentAheadThanTheQueueHoldsAreAllAnsweredInOrder() async throws {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let connection = try await RawConnection.open(port: proxy.port)
        // A held first request, then more pipelined requests than the proxy keeps unparsed
        // before it stops reading the client, with bodies: reading must stop and start again.
        let count = ProxyHandler.maxUnparsedBytes / 40
        var burst = "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n"
        for index in 0..<count {
            burst += "POST /sink/\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        }
        try await connection.send(burst + "GET /bytes/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        try await waitUntil("the first request to reach the upstream") { upstream.heldCount == 1 }
        upstream.release()
        let response = await connection.receivedUntilClosed(deadline: .seconds(20))
        #expect(response.matches(of: /HTTP\/1\.1 200 OK/).count == count + 2)
        #expect(response.matches(of: /"body_bytes":3/).count == count)
        #expect(response.hasSuffix("\r\n\r\nxxx"))
    }

    @Test func anHTTP10ClientGetsAnHTTP10ResponseAndTheConnectionCloses() async throws {
        let proxy = try await Self.proxy()
        let response = try await rawExchange(port: proxy.port, "GET /bytes/5 HTTP/1.0\r\nHost: a\r\n\r\n")
        #expect(statusLine(response) == "HTTP/1.0 200 OK")
        #expect(response.hasSuffix("xxxxx"))
        #expect(!response.lowercased().contains("transfer-encoding"))
    }

    @Test func viaNamesTheVersionEachMessageArrivedIn() async throws {
        let proxy = try await Self.proxy()
        let response = try await rawExchange(port: proxy.port, "GET /echo HTTP/1.0\r\nHost: a\r\n\r\n")
        // The request came as HTTP/1.0, the upstream's response as HTTP/1.1.
        #expect(response.contains("\"via\":[\"1.0 gatehouse\"]"), "\(response)")
        #expect(response.lowercased().contains("\r\nvia: 1.1 gatehouse\r\n"))
    }

    @Test func expectContinueIsRelayedBeforeTheBody() async throws {
        let proxy = try await Self.proxy()
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        let interim = try await client.received(containing: "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(!interim.contains("200"))
        try await client.send("hello")
        let final = await client.receivedUntilClosed(deadline: .seconds(10))
        #expect(final.contains("HTTP/1.1 200 OK"))
        #expect(final.contains("\"body_bytes\":5"))
    }

    @Test func aChunkedRequestBodyReachesTheUpstreamWholeAndChunked() async throws {
        let proxy = try await Self.proxy()
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello \r\n")
        try await client.send("5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")
        let response = await client.receivedUntilClosed(deadline: .seconds(10))
        #expect(response.contains("HTTP/1.1 200 OK"))
        #expect(response.contains("\"body_bytes\":11"))
        // sha256("hello world")
        #expect(response.contains("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"))
        #expect(response.contains("\"transfer-encoding\":[\"chunked\"]"))
        #expect(!response.contains("\"content-length\""))
    }

    @Test func aPOSTWithoutABodyIsSentWithALengthOfZero() async throws {
        let proxy = try await Self.proxy()
        let response = try await rawExchange(port: proxy.port, "POST /empty HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.contains("\"content-length\":[\"0\"]"))
        #expect(response.contains("\"body_bytes\":0"))
    }
}
