import Foundation
import GatehouseModel
import NIOCore
import NIOHTTP1
import NIOPosix

/// A response as a test sees it.
public struct TestResponse: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    public func header(_ name: String) -> String? { headers.first(name: name) }
}

/// One keep-alive HTTP/1.1 client connection over a real socket. Requests on it run one after
/// another; `isClosed` tells whether the server closed it.
public final class TestConnection: Sendable {
    private let channel: any Channel

    public static func open(port: Int, host: String = "127.0.0.1") async throws -> TestConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector())
                }
            }
            .connect(host: host, port: port)
            .get()
        return TestConnection(channel: channel)
    }

    private init(channel: any Channel) {
        self.channel = channel
    }

    public var isClosed: Bool { !channel.isActive }

    public func closed() async {
        try? await channel.closeFuture.get()
    }

    /// Sends one request; `body` is sent in the given chunks (chunked encoding when there is no
    /// Content-Length header and the body is not empty).
    public func request(
        _ method: HTTPMethod = .GET, _ uri: String, headers: [(String, String)] = [], body: [[UInt8]] = []
    ) async throws -> TestResponse {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<TestResponse> in
            // A connection the server already closed has no pipeline left to answer.
            guard let collector = try? channel.pipeline.syncOperations.handler(type: ResponseCollector.self) else {
                return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
            }
            let promise = channel.eventLoop.makePromise(of: TestResponse.self)
            collector.pending.append(promise)
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if !head.headers.contains(name: "host") { head.headers.add(name: "host", value: "localhost") }
            let total = body.reduce(0) { $0 + $1.count }
            if total > 0, !head.headers.contains(name: "content-length"), !head.headers.contains(name: "transfer-encoding") {
                head.headers.add(name: "transfer-encoding", value: "chunked")
            }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            for chunk in body {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: chunk))), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            // A server that never answers (one killed mid-request, say) fails the request instead
            // of hanging the test.
            let timeout = channel.eventLoop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
            promise.futureResult.whenComplete { _ in timeout.cancel() }
            return promise.futureResult
        }.get()
    }

    public func close() async {
        try? await channel.close()
    }

    /// Sends a request with a chunked body of `bodyBytes` zero bytes, written 64 KiB at a time as
    /// the connection drains, and returns the status and the size of the response body, which
    /// is counted, not kept: for transfers too large to hold.
    public func stream(_ method: HTTPMethod, _ uri: String, bodyBytes: Int = 0) async throws -> (status: Int, bodyBytes: Int) {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<(status: Int, bodyBytes: Int)> in
            guard let collector = try? channel.pipeline.syncOperations.handler(type: ResponseCollector.self) else {
                return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
            }
            collector.countOnly = true
            let promise = channel.eventLoop.makePromise(of: TestResponse.self)
            collector.pending.append(promise)
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
            head.headers.add(name: "host", value: "localhost")
            if bodyBytes > 0 { head.headers.add(name: "transfer-encoding", value: "chunked") }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            let chunk = ByteBuffer(repeating: 0, count: 65_536)
            func send(_ left: Int) {
                guard left > 0 else { return channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil) }
                let size = min(left, chunk.readableBytes)
                channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!)))
                    .assumeIsolated().whenSuccess { send(left - size) }
            }
            send(bodyBytes)
            // On the channel's loop, where the collector lives.
            return promise.futureResult.assumeIsolated().map { (status: $0.status, bodyBytes: collector.counted) }.nonisolated()
        }.get()
    }
}

/// A one-shot request on a fresh connection.
public func httpRequest(
    port: Int, _ method: HTTPMethod = .GET, _ uri: String, headers: [(String, String)] = [], json: JSONValue? = nil
) async throws -> TestResponse {
    let connection = try await TestConnection.open(port: port)
    defer { Task { await connection.close() } }
    var headers = headers
    var body: [[UInt8]] = []
    if let json {
        let bytes = json.canonicalBytes
        headers.append(("content-type", "application/json"))
        headers.append(("content-length", String(bytes.count)))
        body = [bytes]
    }
    return try await connection.request(method, uri, headers: headers, body: body)
}

private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    var pending: [EventLoopPromise<TestResponse>] = []
    /// Count body bytes instead of keeping them.
    var countOnly = false
    private(set) var counted = 0
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if (100..<200).contains(head.status.code) { return }
            self.head = head
            body = []
            counted = 0
        case .body(let buffer):
            if countOnly { counted += buffer.readableBytes } else { body += buffer.readableBytesView }
        case .end:
            guard let head, !pending.isEmpty else { return }
            self.head = nil
            pending.removeFirst().succeed(TestResponse(status: Int(head.status.code), headers: head.headers, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let waiting = pending
        pending = []
        for promise in waiting { promise.fail(ChannelError.eof) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let waiting = pending
        pending = []
        for promise in waiting { promise.fail(error) }
        context.close(promise: nil)
    }
}
