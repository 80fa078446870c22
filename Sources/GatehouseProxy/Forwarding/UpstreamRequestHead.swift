import GatehouseHTTP1
import NIOCore
import NIOHTTP1

/// The head of a request as it goes upstream, written as bytes while it is built (no request
/// encoder sits in the upstream pipeline): the request line, the client's end-to-end fields
/// copied, then what the gateway adds. `Host` and the empty line that ends the head are written
/// per attempt (`UpstreamEndpoint.hostLine`): each target has its own.
///
/// Field names and values come from the client's head, which the HTTP parser checked, or from
/// config validated at admission: none can hold a line break.
struct UpstreamRequestHead {
    private var bytes: ByteBuffer

    init(method: HTTPMethod, path: String, query: Substring?, spare: inout SpareBuffer) {
        let method = method.rawValue
        let length = method.utf8.count + path.utf8.count + (query.map { $0.utf8.count + 1 } ?? 0) + 11
        bytes = spare.take(capacity: max(512, length + 256))
        bytes.writeWithCursor(reserving: length) { cursor in
            cursor.append(contentsOf: method)
            cursor.append(" ")
            cursor.append(contentsOf: path)
            if let query {
                cursor.append("?")
                cursor.append(contentsOf: query)
            }
            cursor.append(" HTTP/1.1\r\n")
        }
    }

    /// The bytes, given up by the builder (call it on `consume head`) so that they are the only
    /// reference to their storage and the ending can be written into them without a copy.
    consuming func finished() -> ByteBuffer { bytes }

    mutating func add(_ name: String, _ value: String) {
        bytes.writeField(name, value)
    }

    /// `X-Request-Id` for an id the gateway drew, written without making a string of it.
    mutating func add(drawn high: UInt64, _ low: UInt64) {
        bytes.writeWithCursor(reserving: 48) { cursor in
            cursor.append("x-request-id: ")
            cursor.appendWithUnsafeBytes(count: 32) { RequestID.writeHex(high, low, into: $0) }
            cursor.append("\r\n")
        }
    }

    /// `traceparent` naming the gateway's span, written without making a string of it.
    mutating func add(_ trace: TraceContext) {
        bytes.writeWithCursor(reserving: 70) { cursor in
            cursor.append("traceparent: ")
            cursor.appendWithUnsafeBytes(count: 55) { trace.writeHeader(into: $0) }
            cursor.append("\r\n")
        }
    }

    /// Copies the client's fields but hop-by-hop ones, those its `Connection` header names,
    /// names containing `_` (which some servers read as `-`, letting a client smuggle a header
    /// past a check), and those in `dropping` (lowercase). Runs per request, so names are
    /// compared without allocating.
    /// - Parameter alsoDropping: names left out for this request only (a rename's new name).
    mutating func copyEndToEnd(_ headers: RequestFields, dropping: FieldNameSet, alsoDropping: FieldNameSet? = nil, keepingUnderscores: Bool = false) {
        // Usually nothing: `Connection: keep-alive` or `close` names no other field.
        let listed = headers.contains(name: "connection") ? ForwardedRequest.connectionNamed(headers) : []
        let named = listed.isEmpty ? nil : FieldNameSet(listed)
        for field in headers {
            field.withBytes { rawName, value in
                let name = rawName.assumingMemoryBound(to: UInt8.self)
                let dropped =
                    (!keepingUnderscores && name.contains(UInt8(ascii: "_"))) || ForwardedRequest.hopByHop.contains(name) || dropping.contains(name)
                    || named?.contains(name) == true || alsoDropping?.contains(name) == true
                guard !dropped else { return }
                bytes.writeBytes(rawName)
                bytes.writeStaticString(": ")
                bytes.writeBytes(value)
                bytes.writeStaticString("\r\n")
            }
        }
    }
}
