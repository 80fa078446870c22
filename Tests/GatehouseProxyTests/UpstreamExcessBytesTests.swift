import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

@testable import GatehouseProxy

/// Bytes an upstream sends beyond a response's framing answer no request: were the connection
/// reused, they would be read as the next request's response (another client's, with a shared
/// pool). Such a connection is closed, never lent again, and counted.
@Suite struct UpstreamExcessBytesTests {
    static let smuggling = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-Smuggled: yes\r\n\r\nsmuggle"

    @Test func aSecondResponseBehindTheFirstNeverAnswersThePipelinedNextRequest() async throws {
        let upstream = try await RawUpstream.start { _ in RawUpstream.Reply([Self.smuggling]) }
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target)
        let response = try await rawExchange(
            port: proxy.port, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(!response.contains("smuggle"), "\(response)")
        #expect(!response.lowercased().contains("x-smuggled"))
        #expect(response.components(separatedBy: "\r\n\r\nhello").count == 3, "both requests got their own response: \(response)")
        // The second request went to the upstream itself, over a new connection.
        #expect(upstream.requests.count == 2)
        #expect(proxy.metrics.value(\.upstreamExcessBytes) == 2)
    }

    @Test func aBodyAnsweringHEADIsNotTheNextRequestsResponse() async throws {
        let upstream = try await RawUpstream.start { head in
            head.hasPrefix("HEAD")
                ? RawUpstream.Reply(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"])
                : RawUpstream.Reply(["HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"])
        }
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target)
        let response = try await rawExchange(
            port: proxy.port, "HEAD /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let statuses = response.components(separatedBy: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }
        #expect(statuses == ["HTTP/1.1 200 OK", "HTTP/1.1 201 Created"], "\(response)")
        #expect(response.hasSuffix("\r\n\r\nabc"), "\(response)")
        #expect(!response.contains("hello"))
        #expect(proxy.metrics.value(\.upstreamExcessBytes) == 1)
    }

    @Test func bytesOnAnIdlePooledConnectionCloseIt() async throws {
        // The response is complete when it arrives; more bytes come in a later write, while the
        // connection waits in the pool.
        let upstream = try await RawUpstream.start { head in
            head.contains("/late")
                ? RawUpstream.Reply(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate"])
                : RawUpstream.Reply(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"])
        }
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target)
        let client = try await RawConnection.open(port: proxy.port)
        try await client.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try await client.received(containing: "\r\n\r\nok")
        try await waitUntil("the late bytes refused") { proxy.metrics.value(\.upstreamExcessBytes) >= 1 }
        try await client.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
        let next = try await client.received(containing: "fresh")
        #expect(!next.contains("late\r\n") && !next.hasSuffix("late"))
        #expect(upstream.requests.count == 2)
        await client.close()
    }

    @Test func anUpstreamFloodingInformationalResponsesGets502() async throws {
        let flood = String(repeating: "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", count: 40)
        let upstream = try await RawUpstream.start { _ in RawUpstream.Reply([flood + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]) }
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target)
        let response = try await rawExchange(port: proxy.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let informational = response.components(separatedBy: "HTTP/1.1 103").count - 1
        #expect(informational <= UpstreamConnection.maxInformational, "\(informational) relayed")
        #expect(response.contains("HTTP/1.1 502 "), "\(response.suffix(300))")
        #expect(proxy.metrics.value(\.upstreamInformationalFlood) == 1)
    }
}
