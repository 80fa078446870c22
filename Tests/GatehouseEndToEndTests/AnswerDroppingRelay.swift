import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP relay on a loopback port in front of a real server. It passes every exchange on, except
/// that a connection whose request contains `marker` is closed when the server's answer comes,
/// the answer not passed on: the server acted, and its client never hears so (as when the
/// server is killed between committing and answering, or the network drops the connection).
final class AnswerDroppingRelay: Sendable {
    let port: Int
    private let channel: any Channel
    private let dropped: NIOLockedValueBox<Int>

    /// How many answers were kept from the client.
    var droppedAnswers: Int { dropped.withLockedValue { $0 } }

    static func start(to target: Int, droppingAnswersTo marker: String) async throws -> AnswerDroppingRelay {
        let dropped = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    try client.pipeline.syncOperations.addHandler(ClientSide(target: target, marker: marker, dropped: dropped))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return AnswerDroppingRelay(channel: channel, dropped: dropped)
    }

    private init(channel: any Channel, dropped: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.dropped = dropped
        port = channel.localAddress!.port!
    }

    deinit {
        channel.close(promise: nil)
    }

    /// The client's connection: opens one to the server and passes the client's bytes on.
    private final class ClientSide: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        let target: Int
        let marker: String
        let dropped: NIOLockedValueBox<Int>
        let dropping = NIOLockedValueBox(false)
        var server: (any Channel)?
        var pending: [ByteBuffer] = []

        init(target: Int, marker: String, dropped: NIOLockedValueBox<Int>) {
            self.target = target
            self.marker = marker
            self.dropped = dropped
        }

        func channelActive(context: ChannelHandlerContext) {
            let client = context.channel
            let (dropping, dropped) = (self.dropping, self.dropped)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop)
                .channelInitializer { server in
                    server.eventLoop.makeCompletedFuture {
                        try server.pipeline.syncOperations.addHandler(ServerSide(client: client, dropping: dropping, dropped: dropped))
                    }
                }
                .connect(host: "127.0.0.1", port: target)
                .whenComplete { result in
                    switch result {
                    case .success(let server):
                        handler.value.server = server
                        for buffer in handler.value.pending { server.write(buffer, promise: nil) }
                        server.flush()
                        handler.value.pending = []
                    case .failure:
                        client.close(promise: nil)
                    }
                }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if String(buffer: buffer).contains(marker) { dropping.withLockedValue { $0 = true } }
            if let server {
                server.writeAndFlush(buffer, promise: nil)
            } else {
                pending.append(buffer)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            server?.close(promise: nil)
            context.fireChannelInactive()
        }
    }

    /// The server's side of one connection: its answers go back, unless they are to be dropped.
    private final class ServerSide: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        let client: any Channel
        let dropping: NIOLockedValueBox<Bool>
        let dropped: NIOLockedValueBox<Int>

        init(client: any Channel, dropping: NIOLockedValueBox<Bool>, dropped: NIOLockedValueBox<Int>) {
            self.client = client
            self.dropping = dropping
            self.dropped = dropped
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !dropping.withLockedValue({ $0 }) else {
                dropped.withLockedValue { $0 += 1 }
                client.close(promise: nil)
                context.close(promise: nil)
                return
            }
            client.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            client.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}
