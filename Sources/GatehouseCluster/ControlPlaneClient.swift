import GatehouseModel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The data plane's side of the cluster protocol: keeps one stream open to the control plane,
/// yields each snapshot it receives, and sends reports. Everything received is checked before it
/// is used: frame sizes against `maxFrameBytes`, every message field, each snapshot's signature
/// and hash; a stream that brings anything else is closed. A stream that breaks, or brings no
/// frame for three heartbeat intervals, is opened again after a jittered exponential backoff
/// (0.5 s doubling to 30 s).
public final class ControlPlaneClient: Sendable {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    public let host: String
    public let port: Int
    /// What it sends (the current one) and checks snapshots with (the one the stream was opened with).
    private let tokens: ClusterTokens
    /// The largest frame accepted, uncompressed.
    public let maxFrameBytes: Int
    private let group: any EventLoopGroup
    private let logger: Logger
    private let heartbeat: TimeAmount
    /// For an `https` control plane: asked for each connection, so certificate files that
    /// changed are used from the next one on.
    private let tls: (@Sendable () throws -> NIOSSLContext)?
    private let state = NIOLockedValueBox((connected: false, lastError: String?.none))
    /// The open stream's channel, and whether a new stream was asked for.
    private let reconnecting = NIOLockedValueBox((channel: (any Channel)?.none, asked: false))

    public convenience init(
        host: String, port: Int, token: String, tls: NIOSSLContext? = nil, group: any EventLoopGroup,
        heartbeat: TimeAmount = .seconds(Int64(ClusterProtocol.heartbeatSeconds)), maxFrameBytes: Int = ClusterFrame.defaultMaxMessageBytes,
        logger: Logger
    ) {
        self.init(
            host: host, port: port, tokens: ClusterTokens(token), tls: tls.map { context in { @Sendable in context } }, group: group, heartbeat: heartbeat,
            maxFrameBytes: maxFrameBytes, logger: logger)
    }

    public init(
        host: String, port: Int, tokens: ClusterTokens, tls: (@Sendable () throws -> NIOSSLContext)?, group: any EventLoopGroup,
        heartbeat: TimeAmount = .seconds(Int64(ClusterProtocol.heartbeatSeconds)), maxFrameBytes: Int = ClusterFrame.defaultMaxMessageBytes,
        logger: Logger
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.tls = tls
        self.host = host
        self.port = port
        self.tokens = tokens
        self.group = group
        self.heartbeat = heartbeat
        self.logger = logger
    }

    /// Whether a stream is open now, and why the last one failed.
    public var status: (connected: Bool, lastError: String?) { state.withLockedValue { $0 } }

    /// Keeps a stream open until cancelled, each time saying hello with what `hello()` returns;
    /// every snapshot, delta and refusal of an over-limit frame received goes to `received`, on
    /// an event loop (it must be quick).
    public func run(hello: @escaping @Sendable () -> ClusterProtocol.Hello, received: @escaping @Sendable (ClusterProtocol.Incoming) -> Void) async {
        var attempt = 0
        while !Task.isCancelled {
            let opened = NIOLockedValueBox(false)
            let token = tokens.current
            let signer = SnapshotSigner(token: token)
            do {
                try await stream(hello: hello(), token: token) { message in
                    opened.withLockedValue { $0 = true }
                    let incoming = try ClusterProtocol.incoming(message, signer: signer)
                    if case .heartbeat = incoming {
                        // The token file now names another: open the stream again with it.
                        if self.tokens.current != token { self.reconnect() }
                        return
                    }
                    received(incoming)
                }
                state.withLockedValue { $0 = (false, "the control plane closed the stream") }
            } catch {
                if reconnecting.withLockedValue({ $0.asked }) {
                    state.withLockedValue { $0 = (false, nil) }
                } else {
                    state.withLockedValue { $0 = (false, "\(error)") }
                    logger.warning("control plane stream failed", metadata: ["control_plane": "\(host):\(port)", "error": "\(error)"])
                }
            }
            // Asked for: at once, with a new hello.
            if reconnecting.withLockedValue({ state in
                defer { state.asked = false }; return state.asked
            }) {
                continue
            }
            if opened.withLockedValue({ $0 }) { attempt = 0 }
            let ceiling = min(30.0, 0.5 * Double(1 << min(attempt, 6)))
            attempt += 1
            try? await Task.sleep(for: .milliseconds(Int(ceiling * 1000 * Double.random(in: 0.5...1.0))))
        }
    }

    /// Closes the open stream and opens a new one at once, saying hello again (a data plane that
    /// needs the whole snapshot says so in that hello).
    public func reconnect() {
        let channel = reconnecting.withLockedValue { state in
            state.asked = true
            return state.channel
        }
        channel?.close(promise: nil)
    }

    /// Sends one report; false when the control plane did not take it.
    @discardableResult
    public func report(_ report: ClusterProtocol.Report) async -> Bool {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: ClusterProtocol.reportsPath)
        let body = report.json().canonicalBytes
        head.headers.add(name: "content-type", value: "application/json")
        head.headers.add(name: "content-length", value: String(body.count))
        let status = NIOLockedValueBox(0)
        do {
            try await exchange(
                head, body: body, token: tokens.current, idleLimit: .seconds(10), onHead: { head in status.withLockedValue { $0 = Int(head.status.code) } }, onBody: { _ in }
            )
        } catch {
            logger.warning("report to the control plane failed", metadata: ["error": "\(error)"])
            return false
        }
        return status.withLockedValue { $0 } == 204
    }

    private func stream(
        hello: ClusterProtocol.Hello, token: String, _ handle: @escaping @Sendable (ClusterFrame.Message) throws -> Void
    ) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: ClusterProtocol.streamPath)
        for (name, value) in hello.headers { head.headers.add(name: name, value: value) }
        let decoder = NIOLockedValueBox(ClusterFrame.Decoder(maxMessageBytes: maxFrameBytes))
        let failure = NIOLockedValueBox(String?.none)
        try await exchange(
            head, body: nil, token: token, idleLimit: heartbeat * 3,
            opened: { channel in
                // A new stream asked for while this one connected: its hello may be older than the ask.
                if self.reconnecting.withLockedValue({ state in
                    state.channel = channel; return state.asked
                }) {
                    channel.close(promise: nil)
                }
            },
            onHead: { response in
                guard response.status == .ok else {
                    failure.withLockedValue { $0 = "the control plane answered \(response.status.code)" }
                    return
                }
                self.state.withLockedValue { $0 = (true, nil) }
                self.logger.info("connected to the control plane", metadata: ["control_plane": "\(self.host):\(self.port)"])
            },
            onBody: { buffer in
                let refused = failure.withLockedValue { failure -> Bool in
                    guard let text = failure else { return false }
                    // A refusal's body is shown, but only its beginning: the peer chooses its length.
                    if text.utf8.count < 512 { failure = text + (text.contains(": ") ? "" : ": ") + String(buffer: buffer).prefix(512) }
                    return true
                }
                if refused { return }
                let messages = try decoder.withLockedValue { try $0.feed(buffer.readableBytesView) }
                for message in messages { try handle(message) }
            })
        reconnecting.withLockedValue { $0.channel = nil }
        if let failure = failure.withLockedValue({ $0 }) { throw Refused(description: failure) }
    }

    /// One request on a new connection; returns when the response ended or the connection closed.
    private func exchange(
        _ head: HTTPRequestHead, body: [UInt8]?, token: String, idleLimit: TimeAmount, opened: @Sendable (any Channel) -> Void = { _ in },
        onHead: @escaping @Sendable (HTTPResponseHead) -> Void, onBody: @escaping @Sendable (ByteBuffer) throws -> Void
    ) async throws {
        var head = head
        head.headers.add(name: "host", value: "\(host):\(port)")
        head.headers.add(name: "authorization", value: "Bearer \(token)")
        let loop = group.next()
        let done = loop.makePromise(of: Void.self)
        let (tls, host) = (try self.tls?(), self.host)
        let connecting = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // SNI takes a DNS name; an address is verified against the certificate's IPs.
                        let name = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleLimit))
                    try channel.pipeline.syncOperations.addHandler(ResponseReader(done: done, onHead: onHead, onBody: onBody))
                }
            }
            .connect(host: host, port: port)
        let channel: any Channel
        do {
            channel = try await connecting.get()
        } catch {
            done.fail(error)
            throw error
        }
        opened(channel)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        try await withTaskCancellationHandler {
            try await done.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        try? await channel.close()
    }
}

/// Hands the response's head and body parts on; completes `done` at its end, or with an error
/// when the connection closes first or stays silent past the idle limit.
private final class ResponseReader: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let done: EventLoopPromise<Void>
    private let onHead: (HTTPResponseHead) -> Void
    private let onBody: (ByteBuffer) throws -> Void

    init(done: EventLoopPromise<Void>, onHead: @escaping (HTTPResponseHead) -> Void, onBody: @escaping (ByteBuffer) throws -> Void) {
        self.done = done
        self.onHead = onHead
        self.onBody = onBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): onHead(head)
        case .body(let buffer):
            do {
                try onBody(buffer)
            } catch {
                done.fail(error)
                context.close(promise: nil)
            }
        case .end: done.succeed()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            done.fail(ControlPlaneClient.Refused(description: "no frame from the control plane within three heartbeat intervals"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ControlPlaneClient.Refused(description: "the connection to the control plane closed"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}
