import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOCore
import NIOHTTP1
import Testing

/// The admin API over real sockets, as a careless or hostile client uses it.
@Suite(.serialized) struct AdminEdgeTests {
    @Test func aBadChunkSizeIs400AndAChunkedBodyOverTheLimitIs413() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let badChunk = try await rawExchange(
            port: gatehouse.ports.admin,
            "POST /upstreams HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        #expect(statusLine(badChunk) == "HTTP/1.1 400 Bad Request", "\(badChunk)")
        // 64 KiB chunks past the 1 MiB entity limit.
        let chunk = "10000\r\n" + String(repeating: "a", count: 65536) + "\r\n"
        let big = try await rawExchange(
            port: gatehouse.ports.admin,
            "POST /upstreams HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + String(repeating: chunk, count: 20) + "0\r\n\r\n")
        #expect(statusLine(big) == "HTTP/1.1 413 Payload Too Large", "\(big.prefix(300))")
        #expect(!gatehouse.output.contains("admin request failed"))
        #expect(try await httpRequest(port: gatehouse.ports.admin, .GET, "/versions").json["data"]?.arrayValue?.count == 0)
    }

    @Test func aBodyRefusedUnreadDoesNotHoldItsConnection() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--admin-idle-timeout", "1s"])
        defer { gatehouse.stop() }
        let client = try await RawConnection.open(port: gatehouse.ports.admin)
        try await client.send(
            "POST /upstreams HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n"
                + String(repeating: "x", count: 200_000))
        #expect(statusLine(try await client.received(containing: "\r\n\r\n")) == "HTTP/1.1 413 Payload Too Large")
        // Closed by the server after the idle timeout, not held half closed for good.
        #expect(await client.closedByServer(within: .seconds(30)))
    }

    @Test func aHugeValueIsNotEchoedWhole() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let tag = String(repeating: "t,", count: 200_000)
        let refused = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/upstreams", json: ["name": "u", "targets": [["target": "127.0.0.1:9"]], "tags": [.string(tag)]])
        #expect(refused.status == 400)
        #expect(refused.body.count < 2048, "\(refused.body.count) bytes")
        #expect(refused.json["error"]?["message"]?.stringValue?.contains("400000 bytes") == true, "\(refused.text)")
    }

    @Test func explainGivesTheEdgesAnswerForWhatTheEdgeRefuses() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)
        for (url, headers) in [
            ("http://api..example.com/x", [:]), ("http://user@api.example.com/x", [:]), ("/a#b", ["Host": "a"]), ("/x", ["Host": "a b"]),
            ("/x", ["Host": "api%2Eexample.com"]),
        ] as [(String, [String: String])] {
            let body: JSONValue = ["method": "GET", "url": .string(url), "headers": .object(headers.mapValues(JSONValue.string))]
            let explained = try await httpRequest(port: gatehouse.ports.admin, .POST, "/explain", json: body)
            #expect(explained.status == 200, "\(url): \(explained.text)")
            #expect(explained.json["answer"]?["status"] == 400, "\(url): \(explained.text)")
            #expect(explained.json["answer"]?["reason"]?.stringValue?.hasPrefix("refused by the edge") == true)
        }
        let trace = try await httpRequest(port: gatehouse.ports.admin, .POST, "/explain", json: ["method": "TRACE", "url": "http://a/x"])
        #expect(trace.json["answer"]?["status"] == 405)
        let fine = try await httpRequest(port: gatehouse.ports.admin, .POST, "/explain", json: ["method": "GET", "url": "http://api.example.com./x"])
        #expect(fine.json["answer"]?["status"] == .null, "\(fine.text)")
        #expect(fine.json["request"]?["host"] == "api.example.com")
        // A value no parser would let through is a bad explain request, not an answer.
        for value in ["a\r\nX-Injected: 1", "a\u{0}b", "a\u{7F}"] {
            let bad = try await httpRequest(
                port: gatehouse.ports.admin, .POST, "/explain", json: ["method": "GET", "url": "/x", "headers": ["X-Trace": .string(value)]])
            #expect(bad.status == 400, "\(value.debugDescription): \(bad.text)")
            #expect(bad.json["error"]?["field"] == "headers")
        }
    }
}
