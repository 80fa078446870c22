import Foundation
import GatehouseTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import GatehouseProxy

/// Handing the listening sockets to a successor: while they are lent and after they were taken,
/// this process does not accept on them (two processes waiting on one socket both wake for each
/// connection); a successor that does not confirm gives them back.
@Suite struct HandOverTests {
    struct Setup {
        let proxy: ProxyHarness
        let handoff: SocketHandoff
        let received: SocketHandoff.Received
        let dir: TemporaryDirectory
    }

    static func lend() async throws -> Setup {
        let upstream = try await TestUpstream.start()
        let proxy = try await ProxyHarness.routingEverything(to: upstream)
        let dir = try TemporaryDirectory()
        let address = ListenAddress(host: "127.0.0.1", port: proxy.port)
        let server = proxy.server
        let handoff = try SocketHandoff.serve(
            path: dir.file("handoff.sock"), address: address, sockets: { server.handOver() }, ended: { server.handOverEnded(taken: $0) },
            returned: { server.handedBack() }, logger: Logger(label: "test"))
        let received = try #require(SocketHandoff.receive(path: dir.file("handoff.sock"), address: address, logger: Logger(label: "test")))
        #expect(received.sockets.origin == .handedOver)
        #expect(!received.sockets.descriptors.isEmpty)
        return Setup(proxy: proxy, handoff: handoff, received: received, dir: dir)
    }

    static let request = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

    @Test func aClientArrivingWhileTheSocketsAreLentIsAnsweredOnceTheSuccessorDeclines() async throws {
        let setup = try await Self.lend()
        defer { setup.handoff.stop(); setup.dir.remove() }
        let waiting = try await RawConnection.open(port: setup.proxy.port)
        try await waiting.send(Self.request)
        // Queued in the kernel, not accepted: nothing comes back (a wait can only miss a bug, not invent one).
        #expect(await waiting.receivedUntilClosed(deadline: .milliseconds(300)).isEmpty)

        let queued = try await RawConnection.open(port: setup.proxy.port)
        try await queued.send(Self.request)
        setup.received.release()
        for descriptor in setup.received.sockets.descriptors { close(descriptor) }
        #expect(statusLine(try await queued.received(containing: "\r\n\r\n")) == "HTTP/1.1 200 OK")
        for _ in 0..<5 {
            #expect(statusLine(try await rawExchange(port: setup.proxy.port, Self.request)) == "HTTP/1.1 200 OK")
        }
        await queued.close()
    }

    @Test func onceTheSuccessorConfirmsOnlyItAccepts() async throws {
        let setup = try await Self.lend()
        defer { setup.handoff.stop(); setup.dir.remove() }
        let queued = try await RawConnection.open(port: setup.proxy.port)
        try await queued.send(Self.request)
        setup.received.confirm()
        // The successor: answers every connection with 418, so any 200 came from the old owner.
        var successors: [any Channel] = []
        for descriptor in setup.received.sockets.descriptors {
            successors.append(
                try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Teapot()) }
                    }
                    .withBoundSocket(descriptor).get())
        }
        #expect(statusLine(try await queued.received(containing: "\r\n\r\n")) == "HTTP/1.1 418 I'm a teapot")
        for _ in 0..<10 {
            #expect(statusLine(try await rawExchange(port: setup.proxy.port, Self.request)) == "HTTP/1.1 418 I'm a teapot")
        }
        await queued.close()
        // The successor ends (it crashed, or the upgrade is rolled back): the old owner accepts again.
        for channel in successors { try await channel.close() }
        let waiting = try await RawConnection.open(port: setup.proxy.port)
        try await waiting.send(Self.request)
        setup.received.release()
        #expect(statusLine(try await waiting.received(containing: "\r\n\r\n")) == "HTTP/1.1 200 OK")
        for _ in 0..<5 {
            #expect(statusLine(try await rawExchange(port: setup.proxy.port, Self.request)) == "HTTP/1.1 200 OK")
        }
        await waiting.close()
    }

    @Test func aSuccessorThatNeverConfirmsGivesTheSocketsBackAtTheDeadline() async throws {
        let setup = try await Self.lend()
        defer { setup.handoff.stop(); setup.dir.remove() }
        let waiting = try await RawConnection.open(port: setup.proxy.port)
        try await waiting.send(Self.request)
        #expect(statusLine(try await waiting.received(containing: "\r\n\r\n")) == "HTTP/1.1 200 OK")
        for descriptor in setup.received.sockets.descriptors { close(descriptor) }
        await waiting.close()
    }
}

/// Answers whatever arrives with a 418 and closes.
private final class Teapot: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let answer = ByteBuffer(string: "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        context.writeAndFlush(NIOAny(answer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
