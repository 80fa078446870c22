import NIOCore

/// One keep-alive connection of the load: sends the request at its planned times, whether or not
/// the previous answer came (pipelined then), and records each answer's latency from the time
/// its request was planned, so a stall counts for every request it held up.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private let recorder: LoadRecorder
    private var planned = CircularBuffer<NIODeadline>()
    private var received: ByteBuffer?

    init(request: ByteBuffer, recorder: LoadRecorder) {
        self.request = request
        self.recorder = recorder
    }

    /// Sends a request planned for `at` and schedules the next one `interval` later.
    func send(at: NIODeadline, every interval: TimeAmount, until end: NIODeadline, context: ChannelHandlerContext) {
        guard at < end, context.channel.isActive else { return }
        planned.append(at)
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        let next = at + interval
        context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { self.send(at: next, every: interval, until: end, context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var earlier = received.take() {
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        let now = NIODeadline.now()
        while let length = Self.responseLength(bytes), bytes.readableBytes >= length {
            bytes.moveReaderIndex(forwardBy: length)
            guard let at = planned.popFirst() else { return recorder.failed() }
            recorder.record(now - at, at: at)
        }
        if bytes.readableBytes > 0 { received = bytes }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !planned.isEmpty { recorder.failed() }
    }

    /// The length of the response at the start of `bytes` (head and `Content-Length` body), or nil
    /// while its head is incomplete. Responses without a length are not expected here.
    static func responseLength(_ bytes: ByteBuffer) -> Int? {
        bytes.withUnsafeReadableBytes { raw -> Int? in
            guard raw.count >= 4 else { return nil }
            var lineStart = 0
            var length = 0
            for index in 0..<raw.count - 1 where raw[index] == UInt8(ascii: "\r") && raw[index + 1] == UInt8(ascii: "\n") {
                if index == lineStart { return index + 2 + length }
                let line = UnsafeRawBufferPointer(rebasing: raw[lineStart..<index])
                if line.count > 15, line.prefix(15).map({ $0 | 0x20 }).elementsEqual("content-length:".utf8) {
                    length = Int(String(decoding: line.dropFirst(15).filter { $0 != UInt8(ascii: " ") }, as: UTF8.self)) ?? 0
                }
                lineStart = index + 2
            }
            return nil
        }
    }
}
