import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import GatehouseProxy

/// The client connection's phases, as a value, and the body timeout end to end.
@Suite struct ClientTimeoutsTests {
    typealias State = ClientTimeouts.State

    @Test func aRequestIsTimedFromItsFirstByteToItsEndThenIdle() {
        var state = State.idle
        #expect(state.bytesArrived() == .startHeaderTimer)
        #expect(state.headArrived() == .startBodyTimer)
        // Every read of the body gives the client the whole body timeout again.
        #expect(state.bytesArrived() == .startBodyTimer)
        #expect(state.requestEnded() == .cancelTimer)
        #expect(state == .busy)
        #expect(state.bytesArrived() == .none)
        #expect(state.responseFinished() == .startIdleTimer)
        #expect(state == .idle)
    }

    @Test func aResponseFinishedBeforeItsRequestEndsLeavesTheBodyTimed() {
        var state = State.idle
        _ = state.bytesArrived()
        _ = state.headArrived()
        #expect(state.responseFinished() == .none)
        #expect(state == .readingBody(answered: true))
        #expect(state.bytesArrived() == .startBodyTimer)
        #expect(state.requestEnded() == .startIdleTimer)
        #expect(state == .idle)
    }

    @Test func aStalledRequestBodyGets408AndTheConnectionCloses() async throws {
        let upstream = try await RawUpstream.start { _ in RawUpstream.Reply([]) }
        var options = ProxyOptions()
        options.bodyTimeout = .milliseconds(200)
        options.lingerTimeout = .milliseconds(100)
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target, options: options)
        let connection = try await RawConnection.open(port: proxy.port)
        try await connection.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
        let response = try await connection.received(containing: "request_timeout")
        #expect(statusLine(response) == "HTTP/1.1 408 Request Timeout")
        #expect(await connection.closedByServer(within: .seconds(10)))
    }

    /// An upstream slow to take a body makes the gateway stop reading the client: that silence
    /// is not the client's, and the upload goes through.
    @Test func timeTheGatewayHoldsReadsDoesNotCountAgainstTheBody() async throws {
        // The pause is well past the body timeout, and the timeout well past any stall of this
        // busy machine's client (2 s was not, with the whole suite and its identity provider
        // running): only time the gateway holds reads could make it expire.
        let upstream = try await SlowReadingUpstream.start(pause: .seconds(12))
        var options = ProxyOptions()
        options.bodyTimeout = .seconds(5)
        let proxy = try await ProxyHarness.routingEverything(toTarget: upstream.target, options: options)
        let client = try await TestConnection.open(port: proxy.port)
        // Far more than the socket buffers between client, gateway and upstream hold.
        let upload = try await client.stream(.POST, "/", bodyBytes: 64 << 20)
        #expect(upload.status == 200)
        // The body went upstream whole (its chunk framing with it).
        #expect(upstream.bodyBytes > 64 << 20)
        await client.close()
    }
}

/// An upstream that reads nothing for `pause` after a connection opens, then reads a chunked
/// request body to its last chunk and answers 200. Counts the bytes after the head.
final class SlowReadingUpstream: Sendable {
    let target: String
    private let channel: any Channel
    private let received: NIOLockedValueBox<Int>
    var bodyBytes: Int { received.withLockedValue { $0 } }

    static func start(pause: TimeAmount) async throws -> SlowReadingUpstream {
        let received = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(received: received))
                    channel.eventLoop.scheduleTask(in: pause) { channel.setOption(.autoRead, value: true).whenSuccess { channel.read() } }
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return SlowReadingUpstream(channel: channel, received: received)
    }

    private init(channel: any Channel, received: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.received = received
        target = "127.0.0.1:\(channel.localAddress!.port!)"
    }

    deinit { channel.close(promise: nil) }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let received: NIOLockedValueBox<Int>
        /// The last bytes seen: the head ends with an empty line, the body with the last chunk.
        var tail: [UInt8] = []
        var head: [UInt8] = []
        var inBody = false

        init(received: NIOLockedValueBox<Int>) { self.received = received }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data).readableBytesView
            var window = tail + bytes.suffix(7)
            if inBody {
                received.withLockedValue { $0 += bytes.count }
            } else {
                // Heads are small: searched in what has come so far.
                head += bytes
                guard let end = (0..<max(0, head.count - 3)).first(where: { head[$0..<$0 + 4].elementsEqual("\r\n\r\n".utf8) }) else { return }
                inBody = true
                received.withLockedValue { $0 += head.count - end - 4 }
                window = Array(head.suffix(7))
            }
            tail = Array(window.suffix(7))
            if tail.elementsEqual("\r\n0\r\n\r\n".utf8) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")), promise: nil)
            }
        }
    }
}
