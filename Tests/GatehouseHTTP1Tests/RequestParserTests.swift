import GatehouseHTTP1
import NIOCore
import NIOHTTP1
import Testing

/// The parser's own behaviour, on exact bytes: what it gives for ordinary requests, and what it
/// refuses, with which reason.
@Suite struct RequestParserTests {
    /// Every part of `text` as one read.
    static func parts(_ text: String, limits: RequestParser.Limits = RequestParser.Limits()) throws(RequestParseError) -> [RequestParser.Part] {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer(string: text)
        var parts: [RequestParser.Part] = []
        while let part = try parser.next(&buffer) { parts.append(part) }
        return parts
    }

    static func refusal(_ text: String, limits: RequestParser.Limits = RequestParser.Limits()) -> RequestParseError.Reason? {
        do {
            _ = try parts(text, limits: limits)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func aHeadIsReadInPlace() throws {
        let parts = try Self.parts("GET /a?b=1 HTTP/1.1\r\nHost: example.test\r\nX-Spaced:  v a l \t\r\nEmpty:\r\n\r\n")
        #expect(parts.count == 2)
        guard case .head(let head) = parts[0], case .end(let trailers) = parts[1] else { Issue.record("\(parts)"); return }
        #expect(head.method == .GET)
        #expect(head.target == "/a?b=1")
        #expect(head.version == .http1_1)
        #expect(head.fields.count == 3)
        #expect(head.fields.first(name: "host") == "example.test")
        #expect(head.fields.first(name: "x-spaced") == "v a l")
        #expect(head.fields[0].name == "Host")
        #expect(head.fields.contains(name: "empty"))
        #expect(head.fields.first(name: "empty") == "")
        #expect(!head.fields.contains(name: "hos"))
        #expect(head.framing == .length(0))
        #expect(head.isKeepAlive)
        #expect(trailers.isEmpty)
    }

    @Test func bodiesArriveAsTheyComeAndRequestsFollowEachOther() throws {
        var parser = RequestParser()
        var buffer = ByteBuffer(string: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
        guard case .head(let head) = try parser.next(&buffer) else { Issue.record("no head"); return }
        #expect(head.framing == .length(10))
        guard case .body(let first) = try parser.next(&buffer) else { Issue.record("no body"); return }
        #expect(String(buffer: first) == "hello")
        #expect(try parser.next(&buffer) == nil)
        buffer.writeString("world\r\nGET /next HTTP/1.0\r\n\r\n")
        guard case .body(let second) = try parser.next(&buffer) else { Issue.record("no body"); return }
        #expect(String(buffer: second) == "world")
        guard case .end = try parser.next(&buffer) else { Issue.record("no end"); return }
        #expect(parser.isIdle)
        // An empty line between requests is skipped.
        guard case .head(let next) = try parser.next(&buffer) else { Issue.record("no second head"); return }
        #expect(next.target == "/next")
        #expect(!next.isKeepAlive)
    }

    @Test func aHeadInPiecesIsTheSameHead() throws {
        let text = "PATCH /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nChecksum: 1\r\n\r\n"
        var parser = RequestParser()
        var buffer = ByteBuffer()
        var body = ""
        var trailers: [String] = []
        var head: RequestHead?
        for byte in text.utf8 {
            buffer.writeInteger(byte)
            while let part = try parser.next(&buffer) {
                switch part {
                case .head(let h): head = h
                case .body(let slice): body += String(buffer: slice)
                case .end(let fields): trailers = fields.map { "\($0.name)=\($0.value)" }
                }
            }
        }
        #expect(head?.method == .PATCH)
        #expect(head?.framing == .chunked)
        #expect(head?.fields.first(name: "transfer-encoding") == "chunked")
        #expect(body == "abc")
        #expect(trailers == ["Checksum=1"])
    }

    @Test func anUpgradeEndsTheRequests() throws {
        var parser = RequestParser()
        var buffer = ByteBuffer(string: "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n\u{1}\u{2}GET / HTTP/1.1\r\n")
        guard case .head(let head) = try parser.next(&buffer) else { Issue.record("no head"); return }
        #expect(head.upgrade)
        guard case .end = try parser.next(&buffer) else { Issue.record("no end"); return }
        #expect(parser.isUpgraded)
        #expect(try parser.next(&buffer) == nil)
        #expect(buffer.readableBytes == 18, "the tunnel's bytes are left as they came")
    }

    @Test func limitsOnTheHeadAndItsFields() {
        let fields = (0..<5).map { "X-\($0): v\r\n" }.joined()
        #expect(Self.refusal("GET / HTTP/1.1\r\n\(fields)\r\n", limits: .init(maxFields: 4)) == .tooManyFields)
        #expect(Self.refusal("GET / HTTP/1.1\r\n\(fields)\r\n", limits: .init(maxFields: 5)) == nil)
        let long = "GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 100))\r\n\r\n"
        #expect(Self.refusal(long, limits: .init(maxHeadBytes: 100)) == .headTooLarge)
        #expect(Self.refusal(long, limits: .init(maxHeadBytes: long.utf8.count)) == nil)
        // Found before the head ends: a head that never ends is refused at the limit.
        #expect(Self.refusal("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200), limits: .init(maxHeadBytes: 100)) == .headTooLarge)
        let trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\(fields)\r\n"
        #expect(Self.refusal(trailers, limits: .init(maxFields: 4)) == .tooManyFields)
    }

    /// The request smuggling literature and other malformed heads, each with its reason.
    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", RequestParseError.Reason?.some(.contentLengthWithTransferEncoding)),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .contentLengthWithTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", .invalidFieldName),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", .unframedTransferEncoding),
        ("GET / HTTP/1.0\r\n\r\n\r\n\n", nil),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .transferCodingAfterChunked),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", .unframedTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n", .transferCodingAfterChunked),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n", .emptyTransferCoding),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n chunked\r\n\r\n", .obsoleteLineFolding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", .emptyTransferCoding),
        ("GET / HTTP/1.2\r\n\r\n", .invalidVersion),
        ("GET / RTSP/1.0\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/5.0\r\n\r\n", .invalidVersion),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", .duplicateContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", .contentLengthTooLarge),
        ("POST / HTTP/1.1\r\nContent-Length: 3 3\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", .emptyContentLength),
        ("GET / HTTP/1.1\r\nConnection: upgrade\t\r\nUpgrade: x\r\n\r\n", .tabInFramingValue),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .transferCodingAfterChunked),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\nTransfer-Encoding: chunked\r\n\r\n", .transferCodingAfterChunked),
        ("FLUSH / HTTP/1.1\r\n\r\n", .rtspMethod),
        ("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\nTransfer-Encoding: gzip\r\n\r\n", .transferEncodingOnUpgrade),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n", .framingFieldInTrailers),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", .framingFieldInTrailers),
        ("GET / HTTP/1.1\nHost: a\n\n", .bareLineBreak),
        ("GET / HTTP/1.1\r\nHost: a\n\n", .bareLineBreak),
        ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", .invalidLineEnding),
        ("GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n", .invalidFieldValue),
        ("GET / HTTP/1.1\r\n Host: a\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\n: v\r\n\r\n", .invalidFieldName),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", .invalidFieldName),
        ("GET  / HTTP/1.1\r\n\r\n", .spaceInRequestLine),
        ("GET /  HTTP/1.1\r\n\r\n", .spaceInRequestLine),
        ("GET\t/ HTTP/1.1\r\n\r\n", .invalidMethod),
        ("get / HTTP/1.1\r\n\r\n", .invalidMethod),
        ("BREW / HTTP/1.1\r\n\r\n", .invalidMethod),
        ("GET /a#b HTTP/1.1\r\n\r\n", .targetFragment),
        ("GET /caf\u{e9} HTTP/1.1\r\n\r\n", .nonASCIITarget),
        ("GET http://user@a/ HTTP/1.1\r\n\r\n", .targetForm),
        ("GET a/b HTTP/1.1\r\n\r\n", .targetForm),
        ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion),
        ("GET / http/1.1\r\n\r\n", .invalidVersion),
        ("GET /\r\n\r\n", .unsupportedVersion),
        ("GET /a\u{7f} HTTP/1.1\r\n\r\n", .invalidTarget),
        ("CONNECT a:443 HTTP/1.1\r\n\r\n", .connectMethod),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n", .chunkExtension),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", .invalidChunkSize),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n", .chunkSizeTooLarge),
        ("POST / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", .requestAfterClose),
        ("GET / HTTP/1.1\r\nConnection: close\r\n\r\nG", .requestAfterClose),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .http2Preface),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", .invalidChunkEnding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", .bareLineBreak),
    ])
    func refused(_ text: String, _ reason: RequestParseError.Reason?) {
        #expect(Self.refusal(text) == reason, "\(text.debugDescription)")
    }

    @Test func aRefusalStays() {
        var parser = RequestParser()
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nX: \u{1}\r\n\r\n")
        #expect(throws: RequestParseError.self) { try parser.next(&buffer) }
        buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")
        #expect(throws: RequestParseError.self) { try parser.next(&buffer) }
    }
}
