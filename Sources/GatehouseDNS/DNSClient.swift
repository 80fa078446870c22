import NIOCore
import NIOPosix

/// Asks name servers one question at a time: over UDP from a fresh random port, again over TCP
/// when the answer was truncated (RFC 7766). Servers are tried in turn, for `attempts` rounds; a
/// server failure (SERVFAIL, REFUSED) moves on to the next server, a name error is an answer.
public final class DNSClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let servers: [SocketAddress]
    private let group: any EventLoopGroup
    private let timeout: TimeAmount
    private let attempts: Int

    public init(servers: [SocketAddress], group: any EventLoopGroup, timeout: TimeAmount = .seconds(2), attempts: Int = 2) {
        self.servers = servers
        self.group = group
        self.timeout = timeout
        self.attempts = attempts
    }

    public func ask(_ name: String, _ type: DNSMessage.RecordType) async throws(Failure) -> DNSMessage {
        var problem = "no name server is configured"
        for _ in 0..<attempts {
            for server in servers {
                let id = UInt16.random(in: .min ... .max)
                let query = DNSMessage.query(id: id, name: name, type: type)
                do {
                    var answer = try await exchange(query, id: id, with: server, overTCP: false)
                    if answer.truncated { answer = try await exchange(query, id: id, with: server, overTCP: true) }
                    guard answer.questionName == name.lowercased(), answer.questionType == type.rawValue else {
                        problem = "\(server) answered another question"
                        continue
                    }
                    guard answer.responseCode == 0 || answer.responseCode == DNSMessage.nameError else {
                        problem = "\(server) answered with response code \(answer.responseCode)"
                        continue
                    }
                    return answer
                } catch {
                    problem = "\(server): \(error)"
                }
            }
        }
        throw Failure(description: problem)
    }

    private func exchange(_ query: [UInt8], id: UInt16, with server: SocketAddress, overTCP: Bool) async throws -> DNSMessage {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let timeout = self.timeout
        let channel: any Channel
        if overTCP {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(StreamReply(id: id, promise: promise, timeout: timeout))
                    }
                }
                .connect(to: server).get()
            var framed = channel.allocator.buffer(capacity: query.count + 2)
            framed.writeInteger(UInt16(query.count))
            framed.writeBytes(query)
            channel.writeAndFlush(framed, promise: nil)
        } else {
            channel = try await DatagramBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramReply(id: id, server: server, promise: promise, timeout: timeout))
                    }
                }
                .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
            let envelope = AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: query))
            channel.writeAndFlush(envelope, promise: nil)
        }
        defer { channel.close(promise: nil) }
        return try DNSMessage.parse(try await promise.futureResult.get())
    }
}

/// Fails the reply after its timeout; settles it once, on the channel's loop.
private struct PendingReply {
    private var promise: EventLoopPromise<[UInt8]>?
    private var timer: Scheduled<Void>?

    init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

    mutating func arm(_ timeout: TimeAmount, on loop: any EventLoop, onTimeout: @escaping () -> Void) {
        timer = loop.assumeIsolated().scheduleTask(in: timeout) { onTimeout() }
    }

    mutating func settle(_ result: Result<[UInt8], any Error>) {
        timer?.cancel()
        promise?.completeWith(result)
        promise = nil
    }
}

/// Takes the first datagram from the server that carries the query's id; ignores anything else.
private final class DatagramReply: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let id: UInt16
    private let server: SocketAddress
    private let timeout: TimeAmount
    private var reply: PendingReply

    init(id: UInt16, server: SocketAddress, promise: EventLoopPromise<[UInt8]>, timeout: TimeAmount) {
        self.id = id
        self.server = server
        self.timeout = timeout
        reply = PendingReply(promise: promise)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        reply.arm(timeout, on: context.eventLoop) { [self] in reply.settle(.failure(DNSClient.Failure(description: "no answer in time"))) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server, envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt16.self) == id,
            let bytes = envelope.data.readBytes(length: envelope.data.readableBytes)
        else { return }
        reply.settle(.success(bytes))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        reply.settle(.failure(DNSClient.Failure(description: "the socket closed")))
    }
}

/// Reads one length-prefixed message off a TCP connection.
private final class StreamReply: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let id: UInt16
    private let timeout: TimeAmount
    private var reply: PendingReply
    private var received: ByteBuffer?

    init(id: UInt16, promise: EventLoopPromise<[UInt8]>, timeout: TimeAmount) {
        self.id = id
        self.timeout = timeout
        reply = PendingReply(promise: promise)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        reply.arm(timeout, on: context.eventLoop) { [self] in reply.settle(.failure(DNSClient.Failure(description: "no answer in time"))) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received == nil { received = buffer } else { received!.writeBuffer(&buffer) }
        guard var message = received, let length = message.readInteger(as: UInt16.self), message.readableBytes >= Int(length),
            let bytes = message.readBytes(length: Int(length))
        else { return }
        guard bytes.count >= 2, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id else {
            return reply.settle(.failure(DNSClient.Failure(description: "the answer carries another id")))
        }
        reply.settle(.success(bytes))
    }

    func channelInactive(context: ChannelHandlerContext) {
        reply.settle(.failure(DNSClient.Failure(description: "the server closed the connection before answering")))
    }
}
