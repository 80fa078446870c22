import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One HTTPS request on a new connection, as a browser makes it: TLS with SNI, the server's chain
/// verified against a test CA, `Connection: close`. Returns the leaf the server presented and the
/// response's status line, so a test sees which certificate a name got and that the request went through.
public enum TLSProbe {
    public struct Answer: Sendable {
        public let leaf: NIOSSLCertificate?
        public let statusLine: String
        /// The whole response, head and body.
        public let text: String
    }

    public static func get(
        port: Int, serverName: String?, trusting caPEM: String, path: String = "/", group: any EventLoopGroup
    ) async throws -> Answer {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        // The test CA signs for names the test chooses; the name check is the point of SNI here.
        configuration.certificateVerification = serverName == nil ? .noHostnameVerification : .fullVerification
        let context = try NIOSSLContext(configuration: configuration)
        let collected = group.next().makePromise(of: (NIOSSLCertificate?, ByteBuffer).self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(Collector(done: collected))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let request = "GET \(path) HTTP/1.1\r\nHost: \(serverName ?? "127.0.0.1")\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
        var (leaf, body) = try await collected.futureResult.get()
        let text = body.readString(length: body.readableBytes) ?? ""
        return Answer(leaf: leaf, statusLine: String(text.prefix { $0 != "\r\n" }), text: text)
    }

    /// Takes the leaf when the handshake completes: asked later, a server that answered and
    /// closed at once has taken the TLS handler out of the pipeline with it.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<(NIOSSLCertificate?, ByteBuffer)>
        nonisolated(unsafe) private var received = ByteBuffer()
        nonisolated(unsafe) private var leaf: NIOSSLCertificate?

        init(done: EventLoopPromise<(NIOSSLCertificate?, ByteBuffer)>) { self.done = done }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent {
                leaf = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var part = unwrapInboundIn(data)
            received.writeBuffer(&part)
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed((leaf, received))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.fail(error)
            context.close(promise: nil)
        }
    }
}
