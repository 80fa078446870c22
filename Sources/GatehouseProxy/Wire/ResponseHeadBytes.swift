import NIOCore
import NIOHTTP1

/// Response heads and chunk frames as the bytes the proxy writes. There is no response encoder
/// in the client pipeline: an upstream's head is rewritten by copying the field lines it keeps,
/// and its body passes through as it came.
extension ByteBuffer {
    /// A head the gateway makes itself.
    mutating func writeResponseHead(_ head: HTTPResponseHead) {
        writeStatusLinePrefix(minorVersion: head.version.minor)
        writeString(String(head.status.code))
        writeInteger(UInt8(ascii: " "))
        writeString(head.status.reasonPhrase)
        writeStaticString("\r\n")
        for (name, value) in head.headers { writeField(name, value) }
        writeStaticString("\r\n")
    }

    /// `HTTP/1.x ` in the client's version.
    mutating func writeStatusLinePrefix(minorVersion: Int) {
        writeStaticString(minorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
    }

    mutating func writeField(_ name: String, _ value: String) {
        writeWithCursor(reserving: name.utf8.count + value.utf8.count + 4) { cursor in
            cursor.append(contentsOf: name)
            cursor.append(": ")
            cursor.append(contentsOf: value)
            cursor.append("\r\n")
        }
    }

    /// An upstream head as it goes to the client: the client's HTTP version, the status as the
    /// upstream sent it, the field lines it keeps (see `UpstreamResponseHead.Field.forwarded`;
    /// `dropsCORS` also leaves out `Access-Control-*`, `dropsHSTS` an upstream's
    /// `Strict-Transport-Security` (a client heeds the first, and the route's is the gateway's
    /// to give), `transform` the fields it replaces), then
    /// `Via` and the rest of what the
    /// gateway adds. The caller ends the head with `writeStaticString("\r\n")`.
    mutating func writeForwardedHead(
        _ head: UpstreamResponseHead, clientMinorVersion: Int, dropsCORS: Bool, dropsLimits: Bool = false, dropsHSTS: Bool = false,
        transform: ResponseTransformPolicy? = nil
    ) {
        let renaming = transform?.renamesSomething(in: head) ?? false
        // What is copied comes from the head's bytes, a line end at most two bytes longer than
        // the one it replaces; the version and `Via` take 29.
        let reserved = head.bytes.readableBytes + 2 * head.fields.count + 32
        head.bytes.withUnsafeReadableBytes { raw in
            writeWithCursor(reserving: reserved) { cursor in
                cursor.append(clientMinorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
                cursor.append(UnsafeRawBufferPointer(rebasing: raw[head.statusText]))
                cursor.append("\r\n")
                for field in head.fields where field.forwarded {
                    if dropsCORS, Self.isCORSField(UnsafeRawBufferPointer(rebasing: raw[field.name])) { continue }
                    if dropsLimits, Self.isLimitField(UnsafeRawBufferPointer(rebasing: raw[field.name])) { continue }
                    if dropsHSTS, UpstreamResponseHead.spells(UnsafeRawBufferPointer(rebasing: raw[field.name]), "strict-transport-security") { continue }
                    if let transform, transform.leavesOut(UnsafeRawBufferPointer(rebasing: raw[field.name]), renaming: renaming) { continue }
                    cursor.append(UnsafeRawBufferPointer(rebasing: raw[field.line]))
                    cursor.append("\r\n")
                }
                cursor.append(head.minorVersion == 0 ? "via: 1.0 gatehouse\r\n" : "via: 1.1 gatehouse\r\n")
            }
        }
        if head.restatesLength, let length = head.contentLength { writeField("content-length", String(length)) }
    }

    /// On a route with a `cors` policy the gateway answers CORS itself: two
    /// `Access-Control-Allow-Origin` values would make browsers refuse the response.
    private static func isCORSField(_ name: UnsafeRawBufferPointer) -> Bool {
        name.count > 15 && UpstreamResponseHead.spells(UnsafeRawBufferPointer(rebasing: name.prefix(15)), "access-control-")
    }

    /// On a route with limits the gateway says where the client stands: an upstream's own
    /// `RateLimit-*`, `X-RateLimit-*` or `X-Quota-*` beside them would give two answers.
    private static func isLimitField(_ name: UnsafeRawBufferPointer) -> Bool {
        func starts(_ prefix: StaticString) -> Bool {
            name.count >= prefix.utf8CodeUnitCount
                && UpstreamResponseHead.spells(UnsafeRawBufferPointer(rebasing: name.prefix(prefix.utf8CodeUnitCount)), prefix)
        }
        return starts("ratelimit") || starts("x-ratelimit-") || starts("x-quota-")
    }

    /// The end of a chunked body, without trailers.
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
    fileprivate static let crlf = ByteBuffer(string: "\r\n")
}

extension ChannelHandlerContext {
    /// Writes `data` as one chunk, for a body the gateway frames itself: a request body the
    /// client sent chunked (the parser handed over its data), or a response body that ends with
    /// the upstream's connection going to an HTTP/1.1 client. For handlers that write `IOData`.
    func writeChunk(_ data: ByteBuffer) {
        var size = channel.allocator.buffer(capacity: 18)
        size.writeString(String(data.readableBytes, radix: 16))
        size.writeStaticString("\r\n")
        write(NIOAny(IOData.byteBuffer(size)), promise: nil)
        write(NIOAny(IOData.byteBuffer(data)), promise: nil)
        write(NIOAny(IOData.byteBuffer(ByteBuffer.crlf)), promise: nil)
    }
}
