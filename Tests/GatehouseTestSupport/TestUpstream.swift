import Crypto
import Foundation
import GatehouseModel
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A real HTTP/1.1 server on a loopback port, standing in for an upstream service.
///
/// - `/bytes/N` answers N bytes (64 KiB chunks, each written once the previous one was sent,
///   with Content-Length).
/// - `/sink` counts the request body without hashing it (for very large bodies).
/// - `/health` answers `healthStatus` (200 unless set otherwise), for active health checks.
/// - `/status/NNN` answers that status with an empty body.
/// - `/hang` never answers; `/close` closes the connection without answering.
/// - `/hold` answers like any other path, but only once `release()` is called.
/// - `/page` answers `page`, a web page that makes a cross-origin `fetch` (browser tests).
/// - `/document` answers what `setDocument` gave it (a JWKS, say), counts the requests and
///   keeps their `Authorization` and bodies; held like `/hold` while `setHoldsDocuments(true)`.
/// - `/cors…` answers like anything else, with `Access-Control-Allow-Origin: *` of its own.
/// - `/ws` accepts a WebSocket upgrade (101), sends `hello`, then echoes bytes back uppercased.
/// - anything else answers 200 with JSON describing the request: `server`, `method`, `uri`,
///   `headers` (lowercased name → values), `body_bytes`, `body_sha256`.
public final class TestUpstream: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let counter: Counter
    private let held: HeldRequests

    public let host: String
    public var target: String { "\(host):\(port)" }
    /// Connections accepted so far.
    public var connectionCount: Int { counter.value.withLock { $0 } }
    /// Connections open now.
    public var openConnectionCount: Int { counter.open.withLock { $0 } }
    /// Requests to `/hold` waiting for `release()`.
    public var heldCount: Int { held.count }

    /// What `/health` answers.
    public func setHealthStatus(_ status: Int) { held.healthStatus.withLock { $0 = status } }
    /// While set, every request but `/health` is answered by closing the connection.
    public func setDropsRequests(_ drops: Bool) { held.dropsRequests.withLock { $0 = drops } }
    /// Requests it closed the connection on while `setDropsRequests` was on.
    public var droppedCount: Int { held.dropped.withLock { $0 } }

    /// What `/document` answers: JSON text with these extra headers (`Cache-Control`, say), or
    /// with `status` alone.
    public func setDocument(_ text: String, status: Int = 200, headers: [(String, String)] = []) {
        held.document.withLock { $0 = (status, text, headers) }
    }
    /// Requests to `/document` so far.
    public var documentRequests: Int { held.documentRequests.withLock { $0 } }
    /// The `Authorization` field and body of each request to `/document`, in order.
    public var documentRequestsSeen: [(authorization: String?, body: String)] { held.documentSeen.withLock { $0 } }
    /// While true, `/document` requests wait for `release()` like `/hold` ones.
    public func setHoldsDocuments(_ holds: Bool) { held.holdsDocuments.withLock { $0 = holds } }

    /// Answers every request held so far.
    public func release() { held.releaseAll() }

    private init(name: String, channel: any Channel, counter: Counter, held: HeldRequests) {
        self.name = name
        self.channel = channel
        port = channel.localAddress!.port!
        host = channel.localAddress!.ipAddress!
        self.counter = counter
        self.held = held
    }

    /// - Parameters:
    ///   - tls: serve HTTPS with this certificate and key (PEM).
    ///   - host, port: where to listen (another loopback address, to tell targets of one name apart).
    public static func start(
        name: String = "upstream", host: String = "127.0.0.1", port: Int = 0, tls: (certificate: String, key: String)? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestUpstream {
        let tlsContext = try tls.map { tls in
            try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(tls.certificate.utf8)).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(tls.key.utf8), format: .pem))
                )
            )
        }
        let counter = Counter()
        let held = HeldRequests()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.increment()
                counter.open.withLock { $0 += 1 }
                channel.closeFuture.whenComplete { _ in counter.open.withLock { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    if let tlsContext { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(name: name, held: held))
                }
            }
            .bind(host: host, port: port)
            .get()
        return TestUpstream(name: name, channel: channel, counter: counter, held: held)
    }

    private final class Counter: Sendable {
        let value = Mutex(0)
        let open = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
    }
}

/// Responses to `/hold` waiting for the test, each run on its own channel's event loop.
final class HeldRequests: Sendable {
    private let waiting = Mutex<[@Sendable () -> Void]>([])
    let healthStatus = Mutex(200)
    let dropsRequests = Mutex(false)
    let dropped = Mutex(0)
    let document = Mutex<(status: Int, text: String, headers: [(String, String)])>((404, "", []))
    let documentRequests = Mutex(0)
    let documentSeen = Mutex<[(authorization: String?, body: String)]>([])
    let holdsDocuments = Mutex(false)

    var count: Int { waiting.withLock { $0.count } }

    func hold(_ respond: @escaping @Sendable () -> Void) { waiting.withLock { $0.append(respond) } }

    func releaseAll() {
        let all = waiting.withLock { list in
            defer { list = [] }
            return list
        }
        for respond in all { respond() }
    }
}

private final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    let held: HeldRequests
    var head: HTTPRequestHead?
    var hasher = SHA256()
    var bytes = 0
    /// A `/document` request's body, kept whole.
    var body: [UInt8] = []

    init(name: String, held: HeldRequests) {
        self.name = name
        self.held = held
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            hasher = SHA256()
            bytes = 0
            body = []
        case .body(let buffer):
            bytes += buffer.readableBytes
            if head?.uri.hasPrefix("/sink") != true { hasher.update(data: Array(buffer.readableBytesView)) }
            if head?.uri.hasPrefix("/document") == true { body += buffer.readableBytesView }
        case .end:
            guard let head else { return }
            if head.uri.hasPrefix("/document") {
                held.documentSeen.withLock { $0.append((head.headers.first(name: "authorization"), String(decoding: body, as: UTF8.self))) }
            }
            if head.uri.hasPrefix("/hold") || (head.uri.hasPrefix("/document") && held.holdsDocuments.withLock({ $0 })) {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                held.hold {
                    eventLoop.execute {
                        let (handler, context) = loopBound.value
                        handler.respond(context, head)
                    }
                }
                return
            }
            respond(context, head)
        }
    }

    /// Answers 101 and turns the connection into an uppercasing echo, greeting first: the
    /// greeting travels right behind the 101, as a real server's first frame may.
    private func upgrade(_ context: ChannelHandlerContext) {
        var head = HTTPResponseHead(version: .http1_1, status: .switchingProtocols)
        head.headers.add(name: "upgrade", value: "websocket")
        head.headers.add(name: "connection", value: "Upgrade")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        let pipeline = context.pipeline.syncOperations
        if let encoder = try? pipeline.context(handlerType: HTTPResponseEncoder.self) {
            // Flush the 101 through the encoder before it goes.
            context.flush()
            pipeline.removeHandler(context: encoder, promise: nil)
        }
        if let validator = try? pipeline.context(handlerType: NIOHTTPResponseHeadersValidator.self) {
            pipeline.removeHandler(context: validator, promise: nil)
        }
        if let errors = try? pipeline.context(handlerType: HTTPServerProtocolErrorHandler.self) {
            pipeline.removeHandler(context: errors, promise: nil)
        }
        if let pipelining = try? pipeline.context(handlerType: HTTPServerPipelineHandler.self) {
            pipeline.removeHandler(context: pipelining, promise: nil)
        }
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) {
            pipeline.removeHandler(context: decoder, promise: nil)
        }
        try? pipeline.addHandler(UppercaseEcho())
        context.writeAndFlush(NIOAny(ByteBuffer(string: "hello")), promise: nil)
        pipeline.removeHandler(context: context, promise: nil)
    }

    /// Writes `left` bytes chunk by chunk, each after the previous was sent, so a slow reader
    /// holds the upstream back instead of filling its memory.
    private static func send(_ left: Int, chunk: ByteBuffer, context: ChannelHandlerContext, handler: UpstreamHandler) {
        guard left > 0 else {
            context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let size = min(left, chunk.readableBytes)
        context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!))))
            .assumeIsolated().whenSuccess { send(left - size, chunk: chunk, context: context, handler: handler) }
    }

    /// A web page that sends the cross-origin `fetch` its query describes (`url`, `method`, and
    /// `h` = `name:value` headers) and writes the outcome into `#out`: `status:N body` or
    /// `error:…` when the browser blocked it.
    static let page = """
        <!doctype html><html><body><pre id="out">pending</pre><script>
        const q = new URLSearchParams(location.search);
        const headers = {};
        for (const h of q.getAll('h')) { const i = h.indexOf(':'); headers[h.slice(0, i)] = h.slice(i + 1); }
        const out = document.getElementById('out');
        fetch(q.get('url'), { method: q.get('method') || 'GET', headers, body: q.get('method') === 'PUT' ? '{}' : undefined })
          .then(r => r.text().then(t => { out.textContent = 'status:' + r.status + ' ' + t; }))
          .catch(e => { out.textContent = 'error:' + e; });
        </script></body></html>
        """

    private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        if path.hasPrefix("/hang") { return }
        if path != "/health", held.dropsRequests.withLock({ $0 }) {
            held.dropped.withLock { $0 += 1 }
            return context.close(promise: nil)
        }
        if path.hasPrefix("/ws") { return upgrade(context) }
        if path == "/health" {
            var response = HTTPResponseHead(version: .http1_1, status: .init(statusCode: held.healthStatus.withLock { $0 }))
            response.headers.add(name: "content-length", value: "0")
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        if path.hasPrefix("/close") { return context.close(promise: nil) }
        if path == "/document" {
            held.documentRequests.withLock { $0 += 1 }
            let (status, text, headers) = held.document.withLock { $0 }
            let body = Array(text.utf8)
            var response = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status))
            response.headers.add(name: "content-type", value: "application/json")
            response.headers.add(name: "content-length", value: String(body.count))
            for (name, value) in headers { response.headers.add(name: name, value: value) }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        if path == "/page" {
            let body = Array(Self.page.utf8)
            var response = HTTPResponseHead(version: .http1_1, status: .ok)
            response.headers.add(name: "content-type", value: "text/html; charset=utf-8")
            response.headers.add(name: "content-length", value: String(body.count))
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        if path.hasPrefix("/status/"), let code = Int(path.dropFirst(8)) {
            var response = HTTPResponseHead(version: .http1_1, status: .init(statusCode: code))
            response.headers.add(name: "content-length", value: "0")
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        if path.hasPrefix("/bytes/"), let count = Int(path.dropFirst(7)) {
            var response = HTTPResponseHead(version: .http1_1, status: .ok)
            response.headers.add(name: "content-length", value: String(count))
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            Self.send(count, chunk: ByteBuffer(repeating: UInt8(ascii: "x"), count: 65_536), context: context, handler: self)
            return
        }
        if path.hasPrefix("/sink") {
            let body = JSONValue.object(["body_bytes": .int(bytes)]).canonicalBytes
            var response = HTTPResponseHead(version: .http1_1, status: .ok)
            response.headers.add(name: "content-length", value: String(body.count))
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        var headers: [String: JSONValue] = [:]
        for (name, value) in head.headers {
            let key = name.lowercased()
            headers[key] = .array((headers[key]?.arrayValue ?? []) + [.string(value)])
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let json: JSONValue = [
            "server": .string(name), "method": .string(head.method.rawValue), "uri": .string(head.uri),
            "headers": .object(headers), "body_bytes": .int(bytes), "body_sha256": .string(digest),
        ]
        let body = json.canonicalBytes
        var response = HTTPResponseHead(version: .http1_1, status: .ok)
        response.headers.add(name: "content-type", value: "application/json")
        response.headers.add(name: "content-length", value: String(body.count))
        response.headers.add(name: "x-upstream", value: name)
        if path.hasPrefix("/cors") { response.headers.add(name: "access-control-allow-origin", value: "*") }
        // Hop-by-hop headers the proxy must not pass on to the client.
        response.headers.add(name: "connection", value: "x-upstream-secret")
        response.headers.add(name: "x-upstream-secret", value: "hidden")
        response.headers.add(name: "keep-alive", value: "timeout=5")
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

private final class UppercaseEcho: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: unwrapInboundIn(data)).uppercased()
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
    }
}
