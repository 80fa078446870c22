import NIOCore
import NIOHTTP1

extension ProxyHandler {
    /// Closes the client connection after the answer just written: at once when the request was
    /// read whole, else only once the client stops sending (`LingeringClose`).
    func closeAfterResponse() {
        guard let context else { return }
        guard discardingBody || framingLost, context.channel.isActive else { return context.close(promise: nil) }
        lingering = LingeringClose(now: .now(), idle: options.lingerTimeout, total: options.lingerTime)
        // What still comes is dropped unparsed, and no request timeout answers it.
        let pipeline = context.pipeline.syncOperations
        pipeline.removeIfPresent(ClientTimeouts.self)
        pipeline.removeIfPresent(ByteToMessageHandler<HTTPRequestDecoder>.self)
        // A channel that cannot shut its output alone (TLS) closes whole, as before.
        context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        scheduleLingerCheck()
        resumeClientReads()
    }

    /// Bytes that came while lingering: dropped, and the client gets `lingerTimeout` more.
    func lingeredBytesArrived() {
        lingering?.bytesArrived(now: .now())
    }

    private func scheduleLingerCheck() {
        guard let deadline = lingering?.deadline else { return }
        schedule(after: deadline - .now()) { handler in handler.checkLinger() }
    }

    private func checkLinger() {
        guard let lingering, let context else { return }
        if NIODeadline.now() >= lingering.deadline { return context.close(promise: nil) }
        scheduleLingerCheck()
    }
}
