import NIOCore
import NIOHTTP1

/// How a request's body is framed, from its head.
public enum BodyFraming: Equatable, Sendable {
    case length(Int)
    case chunked
}

/// A parsed request head: the bytes it arrived in, with the request line's parts and each field
/// as ranges of them.
public struct RequestHead: Sendable {
    public let method: HTTPMethod
    public let version: HTTPVersion
    /// The head, request line to the empty line that ends it.
    public var bytes: ByteBuffer { fields.bytes }
    let targetStart: Int32
    let targetEnd: Int32
    public let fields: RequestFields
    public let framing: BodyFraming
    /// The client asked to switch protocols (`Upgrade` named in `Connection`): after this
    /// request, its bytes are not HTTP/1 requests.
    public let upgrade: Bool

    /// The request target, as sent.
    public var target: String {
        bytes.getString(at: bytes.readerIndex + Int(targetStart), length: Int(targetEnd - targetStart)) ?? ""
    }

    /// Whether the target is in origin form (`/path?query`), the form nearly every request's is.
    public var targetIsOriginForm: Bool {
        bytes.getInteger(at: bytes.readerIndex + Int(targetStart), as: UInt8.self) == UInt8(ascii: "/")
    }

    /// Whether the client keeps the connection open after this request (RFC 9112 §9.3).
    public let isKeepAlive: Bool
}
