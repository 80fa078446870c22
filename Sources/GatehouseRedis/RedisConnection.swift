import NIOCore
import NIOPosix

/// The connection of one event loop to a Redis. Commands are pipelined: written as they come,
/// answered in order. Confined to its event loop (every method runs there), hence unchecked.
final class RedisConnection: @unchecked Sendable {
    private enum State {
        case idle
        case connecting
        case ready(any Channel)
        /// Redis failed: commands fail at once until then.
        case resting(until: NIODeadline)
    }

    /// Who waits for the next reply.
    private enum Waiter {
        /// A reply to the login and script commands sent on connect: an error ends the connection.
        case setup
        /// A command's reply; nil when it failed (an error reply ends the connection too).
        case reply(deadline: NIODeadline, (RESPReply?) -> Void)
    }

    private let server: RedisServer
    let loop: any EventLoop
    private var state = State.idle
    private var waiters = CircularBuffer<Waiter>()
    /// Commands written while connecting, sent once connected.
    private var queued: ByteBuffer
    private var timer: Scheduled<Void>?
    private var flushScheduled = false

    init(server: RedisServer, loop: any EventLoop) {
        self.server = server
        self.loop = loop
        queued = ByteBufferAllocator().buffer(capacity: 0)
    }

    func increment(_ key: String, ttlMilliseconds: Int64, _ done: @escaping (Int?) -> Void) {
        run(["EVALSHA", RedisClient.incrementScriptSHA, "1", key, String(ttlMilliseconds)]) { reply in
            if case .integer(let count)? = reply { done(count) } else { done(nil) }
        }
    }

    /// Takes one off `key` if it still exists (a key that expired is not made again).
    func decrement(_ key: String) {
        run(["EVAL", RedisClient.decrementScript, "1", key]) { _ in }
    }

    func get(_ key: String, _ done: @escaping (RedisClient.Value) -> Void) {
        run(["GET", key]) { reply in
            switch reply {
            case .bulk(let bytes?)?: done(.found(bytes))
            case .bulk(nil)?: done(.missing)
            default: done(.failed)
            }
        }
    }

    func set(_ key: String, _ value: [UInt8], ttlMilliseconds: Int64) {
        run(["SET", key, String(decoding: value, as: UTF8.self), "PX", String(ttlMilliseconds)]) { _ in }
    }

    private func run(_ arguments: [String], _ done: @escaping (RESPReply?) -> Void) {
        loop.preconditionInEventLoop()
        switch state {
        case .resting(let until) where NIODeadline.now() < until:
            server.onFailure()
            return done(nil)
        case .idle, .resting:
            connect()
        case .connecting, .ready:
            break
        }
        var command = ByteBufferAllocator().buffer(capacity: 128 + arguments.reduce(0) { $0 + $1.utf8.count })
        RESPReply.writeCommand(arguments, to: &command)
        waiters.append(.reply(deadline: .now() + server.commandTimeout, done))
        send(command)
        armTimer()
    }

    private func send(_ command: ByteBuffer) {
        if case .ready(let channel) = state {
            channel.write(command, promise: nil)
            // One flush for every command of this turn of the event loop: requests that arrived
            // together go to Redis in one write.
            if !flushScheduled {
                flushScheduled = true
                loop.assumeIsolated().execute { [self] in
                    flushScheduled = false
                    if case .ready(let channel) = state { channel.flush() }
                }
            }
        } else {
            var command = command
            queued.writeBuffer(&command)
        }
    }

    private func connect() {
        state = .connecting
        let address = server.address
        var setup = ByteBufferAllocator().buffer(capacity: 256)
        if let password = address.password {
            RESPReply.writeCommand(["AUTH"] + (address.user.map { [$0] } ?? []) + [password], to: &setup)
            waiters.append(.setup)
        }
        if address.database != 0 {
            RESPReply.writeCommand(["SELECT", String(address.database)], to: &setup)
            waiters.append(.setup)
        }
        RESPReply.writeCommand(["SCRIPT", "LOAD", RedisClient.incrementScript], to: &setup)
        waiters.append(.setup)
        queued.writeBuffer(&setup)
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(server.commandTimeout.nanoseconds / 1_000_000) * 4))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisReplyHandler(connection: self))
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard case .connecting = state else { return channel.close(promise: nil) }
                    state = .ready(channel)
                    channel.writeAndFlush(queued, promise: nil)
                    queued.clear()
                case .failure(let error):
                    fail(error)
                }
            }
    }

    func received(_ reply: RESPReply) {
        guard let waiter = waiters.popFirst() else { return fail(nil) }
        switch waiter {
        case .setup:
            if case .error(let message) = reply { return fail(RedisError(message: message)) }
            if waiters.allSatisfy({ if case .reply = $0 { true } else { false } }) { server.reachabilityChanged(reachable: true, error: nil) }
        case .reply(_, let done):
            guard case .error(let message) = reply else { return done(reply) }
            // NOSCRIPT (a SCRIPT FLUSH) and the like: a new connection loads the script again.
            done(nil)
            server.onFailure()
            fail(RedisError(message: message))
        }
        if waiters.isEmpty { cancelTimer() }
    }

    /// Ends the connection: every waiting command fails, and Redis rests for `retryDelay`.
    func fail(_ error: (any Error)?) {
        let channel: (any Channel)?
        if case .ready(let ready) = state { channel = ready } else { channel = nil }
        if case .resting = state, waiters.isEmpty { return }
        state = .resting(until: .now() + server.retryDelay)
        queued.clear()
        cancelTimer()
        let failed = waiters
        waiters.removeAll()
        channel?.close(promise: nil)
        server.reachabilityChanged(reachable: false, error: error)
        for case .reply(_, let done) in failed {
            server.onFailure()
            done(nil)
        }
    }

    func closed() {
        if case .ready = state { fail(RedisError(message: "connection closed")) }
    }

    private func armTimer() {
        guard timer == nil else { return }
        timer = loop.assumeIsolated().scheduleTask(in: server.commandTimeout) { [self] in
            timer = nil
            let now = NIODeadline.now()
            for case .reply(let deadline, _) in waiters where deadline <= now {
                return fail(RedisError(message: "no answer within \(server.commandTimeout.nanoseconds / 1_000_000) ms"))
            }
            if !waiters.isEmpty { armTimer() }
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}

struct RedisError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Reads replies off a Redis connection and hands each to its `RedisConnection`.
private final class RedisReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: RedisConnection
    private var buffer: ByteBuffer?

    init(connection: RedisConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        do {
            while var readable = buffer, let reply = try RESPReply.read(from: &readable) {
                buffer = readable.readableBytes == 0 ? nil : readable
                connection.received(reply)
            }
        } catch {
            buffer = nil
            connection.fail(RedisError(message: "malformed reply"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.fail(error)
    }
}
