import Glibc
import NIOCore
import NIOEmbedded
import Testing

@testable import GatehouseProxy

/// The accept gate's log of a run of failed accepts, on an embedded loop whose time the test
/// moves.
@Suite struct AcceptGateTests {
    static func outOfDescriptors() -> IOError { IOError(errnoCode: EMFILE, reason: "accept") }

    static func lines(_ log: RecordedLog, _ text: String) -> Int { log.all.filter { $0.message.hasPrefix(text) }.count }

    @Test func acceptsAlternatingWithFailuresAreOneRunWithOneLineEachWay() throws {
        let loop = EmbeddedEventLoop()
        let log = RecordedLog()
        let metrics = EdgeMetrics()
        let channel = EmbeddedChannel(handler: AcceptGate(limit: 100, metrics: metrics, logger: log.logger), loop: loop)
        var children: [EmbeddedChannel] = []
        func accept() throws {
            let child = EmbeddedChannel()
            children.append(child)
            try channel.writeInbound(child as any Channel)
        }

        channel.pipeline.fireErrorCaught(Self.outOfDescriptors())
        // Descriptors free up one at a time: an accept succeeds, the next fails, again and again.
        for _ in 0..<5 {
            loop.advanceTime(by: .milliseconds(100))
            try accept()
            channel.pipeline.fireErrorCaught(Self.outOfDescriptors())
            loop.advanceTime(by: .seconds(2))
        }
        #expect(Self.lines(log, "cannot accept connections") == 1)
        #expect(Self.lines(log, "accepting connections again") == 0)
        #expect(metrics.value(\.acceptFailures) == 6)

        // Accepts go on succeeding: the run ends after a second of it, logged once.
        try accept()
        loop.advanceTime(by: .milliseconds(999))
        #expect(Self.lines(log, "accepting connections again") == 0)
        try accept()
        loop.advanceTime(by: .milliseconds(1))
        #expect(Self.lines(log, "accepting connections again") == 1)
        #expect(log.all.last?.metadata["failed_accepts"] == "6")

        // A later failure is a new run.
        channel.pipeline.fireErrorCaught(Self.outOfDescriptors())
        #expect(Self.lines(log, "cannot accept connections") == 2)
        for child in children { _ = try? child.finish() }
        _ = try channel.finish()
    }
}
