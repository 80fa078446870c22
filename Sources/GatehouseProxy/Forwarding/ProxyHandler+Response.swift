import GatehouseModel
import NIOCore
import NIOHTTP1

/// The response side of a request: the upstream's head rewritten for the client, the body
/// relayed as it comes (small bodies behind their head, in one write), and the end of the
/// exchange.
extension ProxyHandler {
    func upstreamResponseHead(_ upstreamHead: UpstreamResponseHead, body: UpstreamConnection.ResponseBody) {
        guard let exchange, let context else { return }
        var heldBody = 0
        if case .length(let length) = body, length <= Self.heldBodyLimit { heldBody = length }
        var head = spareResponseHead.take(capacity: upstreamHead.bytes.readableBytes + 256 + heldBody)
        let clientMinor = exchange.clientVersion.minor
        if upstreamHead.status == 101 {
            guard exchange.websocket else { return upstreamFailed(UpstreamResponseError.malformed("101 to a request that asked for no upgrade")) }
            exchange.switching = true
            exchange.responseStarted = true
            countAttempt(exchange, .success)
            measure.answered(status: 101, source: .upstream)
            head.writeForwardedHead(upstreamHead, clientMinorVersion: clientMinor, dropsCORS: false)
            head.writeStaticString("upgrade: websocket\r\nconnection: upgrade\r\n\r\n")
            return writeResponse(head, exchange)
        }
        if upstreamHead.status < 200 {
            // An HTTP/1.0 client cannot be sent informational responses (RFC 9110 §15.2).
            if clientMinor == 0 { return }
            head.writeForwardedHead(upstreamHead, clientMinorVersion: clientMinor, dropsCORS: false)
            head.writeStaticString("\r\n")
            return context.writeAndFlush(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        }
        exchange.responseStarted = true
        countAttempt(exchange, .success)
        measure.answered(status: upstreamHead.status, source: .upstream)
        exchange.upstreamKeepAlive = upstreamHead.keepAlive && body != .untilClose
        if exchange.upstream.passiveHealth != nil { health.recordSuccess(exchange.upstream.healthKeys[exchange.target]) }
        head.writeForwardedHead(
            upstreamHead, clientMinorVersion: clientMinor, dropsCORS: exchange.replacesCORS, dropsLimits: exchange.replacesLimits,
            dropsHSTS: exchange.replacesHSTS, transform: exchange.responseTransform)
        for (name, value) in exchange.addedHeaders { head.writeField(name, value) }
        if let transform = exchange.responseTransform, let values = exchange.responseValues {
            exchange.config.policyMetrics.count(.responseTransformer, .applied)
            transform.write(upstreamHead, values: values, into: &head)
        }
        let unframed = body == .chunked || body == .untilClose
        if clientMinor == 0 {
            // An HTTP/1.0 client reads no chunks: it gets the data, and the close ends the body.
            exchange.connection?.passesChunkFraming = false
        } else if unframed {
            exchange.chunkEncodes = body == .untilClose
            head.writeStaticString("transfer-encoding: chunked\r\n")
        }
        // After an upgrade request the HTTP parser stops: the connection cannot carry more.
        exchange.closeClientAfter = !exchange.clientKeepAlive || (unframed && clientMinor == 0) || exchange.upgradeRequested || client.quiescing
        if exchange.closeClientAfter {
            head.writeStaticString("connection: close\r\n")
        } else if clientMinor == 0 {
            head.writeStaticString("connection: keep-alive\r\n")
        }
        head.writeStaticString("\r\n")
        exchange.heldHead = head
        if heldBody == 0 { writeHeldHead(exchange) }
    }

    func upstreamResponseBody(_ bytes: ByteBuffer) {
        guard let exchange, let context else { return }
        if exchange.heldHead != nil {
            exchange.heldHead!.writeImmutableBuffer(bytes)
            writeHeldHead(exchange)
        } else if exchange.chunkEncodes {
            responseUnflushed = true
            measure.sent(bytes.readableBytes)
            context.writeChunk(bytes)
        } else {
            writeResponse(bytes, exchange)
        }
    }

    func upstreamResponseEnd() {
        guard let exchange else { return }
        if exchange.chunkEncodes { writeResponse(ByteBuffer.lastChunk, exchange) }
        writeHeldHead(exchange)
        finish(exchange)
    }

    func upstreamSwitchedProtocols(leftover: ByteBuffer) {
        guard let exchange, exchange.switching, let context else { return }
        if leftover.readableBytes > 0 { writeResponse(leftover, exchange) }
        switchToTunnel(exchange, context: context)
    }

    func upstreamReadComplete() {
        // Whatever this read brought, the upstream is alive: the read timeout starts again (once
        // per read, not per part of the response).
        if let exchange {
            if exchange.requestEnded { armReadTimeout() }
            writeHeldHead(exchange)
        }
        if responseUnflushed {
            responseUnflushed = false
            context?.flush()
        }
    }

    /// Writes part of an upstream's response; it is flushed when the upstream read ends, or with
    /// the response's end.
    private func writeResponse(_ bytes: ByteBuffer, _ exchange: Exchange) {
        writeHeldHead(exchange)
        responseUnflushed = true
        measure.sent(bytes.readableBytes)
        context?.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
    }

    /// Writes the response head (with the body copied behind it, if it came), and keeps its
    /// buffer for the next response's head.
    func writeHeldHead(_ exchange: Exchange) {
        guard let head = exchange.heldHead.take() else { return }
        responseUnflushed = true
        measure.sent(head.readableBytes)
        context?.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        spareResponseHead.keep(head)
    }

    private func finish(_ exchange: Exchange) {
        disarmReadTimeout()
        _ = client.exchangeEnded(requestEnded: exchange.requestEnded)
        spareRequestHead.keep(exchange.headBuffer)
        if let connection = exchange.connection {
            pool.release(connection, reusable: exchange.requestEnded && exchange.upstreamKeepAlive)
        }
        writeEnd(closeAfter: exchange.closeClientAfter)
        answered(closing: exchange.closeClientAfter)
    }

    /// A body up to this size is copied behind its head, making one write of both.
    private static let heldBodyLimit = 8 * 1024
}
