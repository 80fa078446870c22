import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Sends exact bytes over a fresh TCP connection and returns every byte the server sent until
/// it closed the connection. For protocol cases where the bytes themselves are the test.
public func rawExchange(port: Int, _ request: String, deadline: TimeAmount = .seconds(10)) async throws -> String {
    let connection = try await RawConnection.open(port: port)
    try await connection.send(request)
    return await connection.receivedUntilClosed(deadline: deadline)
}

/// The first line of a raw response, such as `HTTP/1.1 400 Bad Request`.
public func statusLine(_ response: String) -> String {
    String(response.split(separator: "\r\n", maxSplits: 1).first ?? "")
}

private final class ByteCollector: Sendable {
    private let bytes = NIOLockedValueBox<[UInt8]>([])
    private let ended = NIOLockedValueBox(false)

    var text: String { String(decoding: bytes.withLockedValue { $0 }, as: UTF8.self) }
    /// The server ended its side (a half-closed connection only).
    var inputEnded: Bool { ended.withLockedValue { $0 } }

    func handler() -> Handler { Handler(collector: self) }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let collector: ByteCollector
        init(collector: ByteCollector) { self.collector = collector }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            collector.bytes.withLockedValue { $0 += buffer.readableBytesView }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { collector.ended.withLockedValue { $0 = true } }
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// A raw TCP connection for conversations: send bytes, then wait for text to arrive.
public final class RawConnection: Sendable {
    private let channel: any Channel
    private let collector: ByteCollector

    /// - Parameter halfClosure: the server ending its side does not close this one, which can
    ///   go on sending (`inputEnded` tells).
    public static func open(port: Int, halfClosure: Bool = false) async throws -> RawConnection {
        let collector = ByteCollector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: halfClosure)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector.handler()) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, collector: collector)
    }

    private init(channel: any Channel, collector: ByteCollector) {
        self.channel = channel
        self.collector = collector
    }

    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Everything received so far, once it contains `marker`.
    public func received(containing marker: String) async throws -> String {
        do {
            try await waitUntil("'\(marker)' from the server", deadline: .seconds(10)) { collector.text.contains(marker) }
        } catch {
            throw TimedOut(description: "\(error); received so far: \(collector.text.debugDescription)")
        }
        return collector.text
    }

    /// Everything received once the server closed the connection (or, so that a server that
    /// never closes fails the test instead of hanging it, once `deadline` passed).
    public func receivedUntilClosed(deadline: TimeAmount) async -> String {
        _ = await closedByServer(within: deadline)
        return collector.text
    }

    /// Whether the server closed the connection within `deadline`; closed either way after it.
    public func closedByServer(within deadline: TimeAmount) async -> Bool {
        let channel = self.channel
        let expired = NIOLockedValueBox(false)
        let timeout = channel.eventLoop.scheduleTask(in: deadline) {
            expired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        timeout.cancel()
        return !expired.withLockedValue { $0 }
    }

    /// Waits for the server to end its side of a half-closed connection.
    public func inputEnded() async throws {
        try await waitUntil("the server's end of stream", deadline: .seconds(10)) { collector.inputEnded }
    }

    public func close() async {
        try? await channel.close()
    }
}
