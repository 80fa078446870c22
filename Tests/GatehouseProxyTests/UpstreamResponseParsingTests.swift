import NIOCore
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// The response head parser and the chunked-body reader, on their own, at every split point.
@Suite struct UpstreamResponseParsingTests {
    static func parse(_ text: String) throws(UpstreamResponseError) -> (UpstreamResponseHead, Int)? {
        var fields: [UpstreamResponseHead.Field] = []
        return try UpstreamResponseHead.parse(ByteBuffer(string: text), fields: &fields)
    }

    @Test func aHeadIsReadOnlyOnceWhole() throws {
        let text = "HTTP/1.1 201 Created\r\nContent-Length: 7\r\nX-A:  a b \r\nConnection: x-a\r\nTE: trailers\r\nX_B: b\r\n\r\nbody..."
        let whole = text.utf8.count - 7
        for end in 0..<whole {
            #expect(try Self.parse(String(decoding: text.utf8.prefix(end), as: UTF8.self)) == nil, "parsed from \(end) bytes")
        }
        let (head, length) = try #require(try Self.parse(text))
        #expect(length == whole)
        #expect((head.status, head.minorVersion, head.contentLength, head.chunked, head.keepAlive) == (201, 1, 7, false, true))
        let fields = head.fields.map { (String(decoding: head.name(of: $0), as: UTF8.self), $0.forwarded) }
        #expect(fields.map(\.0) == ["Content-Length", "X-A", "Connection", "TE", "X_B"])
        // Only Content-Length goes on: X-A is named by Connection, the rest are hop-by-hop or have `_`.
        #expect(fields.map(\.1) == [true, false, false, false, false])
        #expect(String(decoding: head.bytes.readableBytesView[head.fields[1].line], as: UTF8.self) == "X-A:  a b")
        #expect(String(decoding: head.bytes.readableBytesView[head.statusText], as: UTF8.self) == "201 Created")
    }

    @Test func headsLargerThanTheSpaceFirstReservedAreWrittenWhole() throws {
        // Heads are written through a cursor into space reserved in advance: long pieces must
        // grow the buffer, not be cut or overrun it.
        let path = "/" + String(repeating: "p", count: 9000)
        let value = String(repeating: "v", count: 20000)
        var spare = SpareBuffer()
        var request = UpstreamRequestHead(method: .PATCH, path: path, query: "q=" + String(repeating: "q", count: 3000), spare: &spare)
        request.add("x-long", value)
        let bytes = (consume request).finished()
        #expect(String(buffer: bytes) == "PATCH \(path)?q=\(String(repeating: "q", count: 3000)) HTTP/1.1\r\nx-long: \(value)\r\n")

        let upstream = "HTTP/1.1 200 OK\nX-Big: \(value)\nX-A: 1\n\n"
        let (head, _) = try #require(try Self.parse(upstream))
        var out = ByteBuffer()
        out.writeForwardedHead(head, clientMinorVersion: 0, dropsCORS: false)
        #expect(String(buffer: out) == "HTTP/1.0 200 OK\r\nX-Big: \(value)\r\nX-A: 1\r\nvia: 1.1 gatehouse\r\n")
    }

    @Test func theEndOfAHeadIsFoundPieceByPiece() {
        for text in ["HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody", "HTTP/1.1 200 OK\nA: 1\n\nbody"] {
            let bytes = Array(text.utf8)
            let whole = bytes.count - 4
            // Fed one byte at a time, searching on from where the last search stopped.
            var searchedTo = 0
            for end in 1...bytes.count {
                let complete = UpstreamResponseHead.isComplete(ByteBuffer(bytes: bytes[..<end]), from: searchedTo)
                #expect(complete == (end >= whole), "\(end) bytes of \(text.debugDescription)")
                if complete { break }
                searchedTo = max(0, end - 2)
            }
        }
    }

    /// The parser spells the hop-by-hop names out for speed: it must leave out every one the
    /// proxy's list names, in any case.
    @Test func everyHopByHopFieldStopsAtTheProxy() throws {
        let lines = ForwardedRequest.hopByHop.names.filter { $0 != "transfer-encoding" }.map { "\($0.uppercased()): x\r\n" }
        let (head, _) = try #require(try Self.parse("HTTP/1.1 200 OK\r\n" + lines.joined() + "X-Kept: y\r\n\r\n"))
        #expect(head.fields.count == lines.count + 1)
        #expect(head.fields.filter(\.forwarded).map { String(decoding: head.name(of: $0), as: UTF8.self) } == ["X-Kept"])
    }

    @Test func bareLineFeedsEndLinesAndAReasonIsOptional() throws {
        let (head, length) = try #require(try Self.parse("HTTP/1.1 204\nX-A: 1\n\nnext"))
        #expect(head.status == 204 && length == 21)
        #expect(String(decoding: head.bytes.readableBytesView[head.statusText], as: UTF8.self) == "204")
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\n\r\n", true), ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\n\r\n", false), ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", true),
    ])
    func keepAliveFollowsTheVersionAndConnection(_ text: String, _ keepAlive: Bool) throws {
        #expect(try #require(try Self.parse(text)).0.keepAlive == keepAlive)
    }

    @Test func repeatedEqualLengthsAreOneLengthAndGoOnSaidOnce() throws {
        let head = try #require(try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\ncontent-length: 4\r\nX-A: 1\r\n\r\n")).0
        #expect(head.contentLength == 4)
        var out = ByteBuffer()
        out.writeForwardedHead(head, clientMinorVersion: 1, dropsCORS: false)
        #expect(String(buffer: out) == "HTTP/1.1 200 OK\r\nX-A: 1\r\nvia: 1.1 gatehouse\r\ncontent-length: 4\r\n")
    }

    /// 1xx and 204 have no body: a length would make a client read the next response as one.
    /// A 304's length describes the representation, and stays.
    @Test(arguments: [
        ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 204 No Content\r\nvia: 1.1 gatehouse\r\n"),
        ("HTTP/1.1 103 Early Hints\r\nContent-Length: 5, 5\r\n\r\n", "HTTP/1.1 103 Early Hints\r\nvia: 1.1 gatehouse\r\n"),
        ("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nvia: 1.1 gatehouse\r\n"),
    ])
    func responsesWithoutABodyClaimNoLength(_ text: String, _ forwarded: String) throws {
        let head = try #require(try Self.parse(text)).0
        var out = ByteBuffer()
        out.writeForwardedHead(head, clientMinorVersion: 1, dropsCORS: false)
        #expect(String(buffer: out) == forwarded)
    }

    static let chunked = "4\r\nWiki\r\n7;name=\"v\"\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"

    @Test func aChunkedBodyIsReadAcrossEverySplit() throws {
        let bytes = Array(Self.chunked.utf8) + Array("HTTP/1.1".utf8)
        for split in 0...bytes.count {
            var body = ChunkedBody()
            var data: [UInt8] = []
            var taken = 0
            for part in [bytes[0..<split], bytes[split...]] where !body.isDone {
                let base = part.startIndex
                taken += try Array(part).withUnsafeBytes { (raw) throws(UpstreamResponseError) -> Int in
                    try body.advance(raw) { run in data += bytes[base + run.lowerBound..<base + run.upperBound] }
                }
            }
            #expect(body.isDone, "split at \(split)")
            #expect(taken == Self.chunked.utf8.count, "the bytes after the body are left, split at \(split)")
            #expect(String(decoding: data, as: UTF8.self) == "Wikipedia in \r\nchunks.")
        }
    }

    @Test(arguments: [
        "\r\n", "x\r\n", ";a\r\n", "5\n", "5\r\nhelloX\r\n", "5\r\nhello\r\n0\r\nA: \u{7F}\r\n\r\n", "5\r\nhello\r\n0\r\n\r\r",
        "10000000000000000\r\n",
    ])
    func badChunkFramingIsRefused(_ text: String) {
        var body = ChunkedBody()
        #expect(throws: UpstreamResponseError.self) {
            _ = try Array(text.utf8).withUnsafeBytes { (raw) throws(UpstreamResponseError) -> Int in try body.advance(raw) { _ in } }
        }
    }
}

@Suite struct SpareBufferTests {
    @Test func aKeptBufferIsReusedEmptyAndNeverWrittenWhileSomeoneStillHoldsIt() {
        var spare = SpareBuffer()
        var written = ByteBuffer(string: "GET / HTTP/1.1\r\n")
        written.reserveCapacity(64)
        spare.keep(written)
        // The channel may still hold the bytes it was given: reuse must not change them.
        var next = spare.take(capacity: 32)
        #expect(next.readableBytes == 0 && next.capacity >= 32)
        next.writeString("POST /other HTTP/1.1\r\n")
        #expect(String(buffer: written) == "GET / HTTP/1.1\r\n")
    }

    @Test func largeBuffersAreNotKept() {
        var spare = SpareBuffer()
        let large = ByteBufferAllocator().buffer(capacity: SpareBuffer.keptCapacity * 4)
        spare.keep(large)
        #expect(spare.take(capacity: 16).capacity < large.capacity)
    }
}
