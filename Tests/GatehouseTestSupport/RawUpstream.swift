import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An upstream on a loopback port that answers each request head with exact bytes: for
/// responses a real HTTP server would never send (bad framing, odd but valid encodings).
/// Request bodies are not expected: each request ends with its empty line.
public final class RawUpstream: Sendable {
    /// What to send back: `pieces` written and flushed one after the other, then the connection
    /// closed if `close`.
    public struct Reply: Sendable {
        public var pieces: [String]
        public var close: Bool

        public init(_ pieces: [String], close: Bool = false) {
            self.pieces = pieces
            self.close = close
        }
    }

    public let port: Int
    public var target: String { "127.0.0.1:\(port)" }
    private let channel: any Channel
    private let heads: NIOLockedValueBox<[String]>

    /// The request heads received so far, in order.
    public var requests: [String] { heads.withLockedValue { $0 } }

    /// - Parameter reply: given each request head (through its empty line).
    public static func start(_ reply: @escaping @Sendable (String) -> Reply) async throws -> RawUpstream {
        let heads = NIOLockedValueBox<[String]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(reply: reply, heads: heads))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawUpstream(channel: channel, heads: heads)
    }

    private init(channel: any Channel, heads: NIOLockedValueBox<[String]>) {
        self.channel = channel
        self.heads = heads
        port = channel.localAddress!.port!
    }

    deinit {
        channel.close(promise: nil)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let reply: @Sendable (String) -> Reply
        let heads: NIOLockedValueBox<[String]>
        var received = ""

        init(reply: @escaping @Sendable (String) -> Reply, heads: NIOLockedValueBox<[String]>) {
            self.reply = reply
            self.heads = heads
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            while let end = received.range(of: "\r\n\r\n") {
                let head = String(received[..<end.upperBound])
                received = String(received[end.upperBound...])
                heads.withLockedValue { $0.append(head) }
                let answer = reply(head)
                for piece in answer.pieces { context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: piece)), promise: nil) }
                if answer.close {
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                    return
                }
            }
        }
    }
}
