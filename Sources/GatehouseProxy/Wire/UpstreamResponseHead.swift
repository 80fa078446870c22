import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an upstream sent that the gateway will not pass on: the client gets 502 (or, once its
/// response started, a closed connection).
enum UpstreamResponseError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case headTooLarge

    var description: String {
        switch self {
        case .malformed(let reason): reason
        case .headTooLarge: "response head over \(UpstreamResponseHead.maxBytes) bytes"
        }
    }
}

/// An upstream response's status line and header fields, parsed in place in the bytes read
/// (RFC 9112 §4–6): fields are kept as ranges, so forwarding them copies bytes rather than
/// building strings. Strict where a lax reading would let bytes from one response leak into
/// the framing of the next: obs-fold, whitespace before the colon, control characters,
/// conflicting `Content-Length`, `Transfer-Encoding` other than `chunked` are all refused.
struct UpstreamResponseHead {
    /// One field line: `line` runs from the name to the end of the value (no trailing
    /// whitespace), so a kept field is copied as is.
    struct Field {
        var name: Range<Int>
        var line: Range<Int>
        /// False for hop-by-hop fields, those the `Connection` header names, and names with `_`.
        var forwarded: Bool
    }

    static let maxBytes = 64 * 1024
    private static let contentLengthName = Array("content-length".utf8)

    /// The head's bytes; ranges index into them.
    let bytes: ByteBuffer
    let minorVersion: Int
    let status: Int
    /// `200 OK`: the status code and reason as sent.
    let statusText: Range<Int>
    let fields: [Field]
    let contentLength: Int?
    /// The upstream said its length more than once: the gateway says it once (`writeForwardedHead`).
    let restatesLength: Bool
    let chunked: Bool
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    let keepAlive: Bool

    func name(of field: Field) -> ByteBufferView { bytes.readableBytesView[field.name] }

    /// Parses a head at the start of `buffer`. Returns nil while the head is incomplete; on
    /// success, the number of bytes it took (through the empty line) comes with it.
    /// - Parameters:
    ///   - fields: storage for the fields, kept by the caller so its capacity is reused.
    ///   - keepsUnderscores: names with `_` are passed on (`--allow-underscore-headers`).
    static func parse(
        _ buffer: ByteBuffer, fields: inout [Field], keepsUnderscores: Bool = false
    ) throws(UpstreamResponseError) -> (UpstreamResponseHead, Int)? {
        fields.removeAll(keepingCapacity: true)
        let scan = try buffer.withUnsafeReadableBytes { (raw) throws(UpstreamResponseError) -> Scan? in
            try Scan.run(raw, fields: &fields, keepsUnderscores: keepsUnderscores)
        }
        // An incomplete head's size is the caller's to bound: it holds the pieces.
        guard let scan else { return nil }
        if scan.length > maxBytes { throw .headTooLarge }
        if scan.chunked, scan.contentLength != nil { throw .malformed("both Content-Length and Transfer-Encoding") }
        if scan.transferEncoded, scan.minorVersion == 0 { throw .malformed("Transfer-Encoding in an HTTP/1.0 response") }
        if !scan.connectionNamed.isEmpty {
            let view = buffer.readableBytesView
            for index in fields.indices where fields[index].forwarded {
                let name = view[fields[index].name]
                if scan.connectionNamed.contains(where: { Self.equalsIgnoringCase(name, $0) }) { fields[index].forwarded = false }
            }
        }
        // 1xx and 204 have no body and must not claim one (RFC 9110 §8.6): a client that took the
        // length at its word would read the next response as this one's body. A length said
        // more than once (`5, 5`, or two fields) goes on said once: strict clients refuse lists.
        let bodiless = scan.status < 200 || scan.status == 204
        if scan.contentLength != nil, bodiless || scan.lengthsSaid > 1 {
            let view = buffer.readableBytesView
            for index in fields.indices where Self.equalsIgnoringCase(view[fields[index].name], contentLengthName) {
                fields[index].forwarded = false
            }
        }
        let keepAlive = scan.minorVersion == 1 ? !scan.closeToken : scan.keepAliveToken && !scan.closeToken
        let head = UpstreamResponseHead(
            bytes: buffer.getSlice(at: buffer.readerIndex, length: scan.length)!, minorVersion: scan.minorVersion, status: scan.status,
            statusText: scan.statusText, fields: fields, contentLength: scan.contentLength,
            restatesLength: !bodiless && scan.lengthsSaid > 1, chunked: scan.chunked, keepAlive: keepAlive)
        return (head, scan.length)
    }

    /// Whether the empty line that ends a head is in `buffer`, looking from `start` on: a head
    /// that arrives in many pieces is parsed once it is whole, not once per piece.
    static func isComplete(_ buffer: ByteBuffer, from start: Int) -> Bool {
        buffer.withUnsafeReadableBytes { raw in
            var index = start
            while let newline = lineFeed(in: raw, from: index) {
                if newline + 1 < raw.count, raw[newline + 1] == UInt8(ascii: "\n") { return true }
                if newline + 2 < raw.count, raw[newline + 1] == UInt8(ascii: "\r"), raw[newline + 2] == UInt8(ascii: "\n") { return true }
                index = newline + 1
            }
            return false
        }
    }

    /// Where the next line feed in `raw` is, from `start` on (`memchr`: heads are searched for
    /// line ends on every response).
    static func lineFeed(in raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < raw.count, let found = memchr(raw.baseAddress! + start, Int32(UInt8(ascii: "\n")), raw.count - start) else {
            return nil
        }
        return raw.baseAddress!.distance(to: UnsafeRawPointer(found))
    }

    /// Whether `bytes` spell the lowercase `literal`, ignoring ASCII case (no table, no
    /// allocation: it runs for every field of every response).
    static func spells(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let spelled = literal.utf8Start
        for index in 0..<bytes.count where lowered(bytes[index]) != spelled[index] { return false }
        return true
    }

    private static func equalsIgnoringCase<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ lowercase: [UInt8]) -> Bool {
        bytes.count == lowercase.count && zip(bytes, lowercase).allSatisfy { Self.lowered($0) == $1 }
    }

    /// HTAB, SP, VCHAR and obs-text: anything but control characters.
    static func isFieldValueByte(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F) }

    @inline(__always) static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

extension UpstreamResponseHead {
    /// One pass over the head's lines.
    fileprivate struct Scan {
        var length = 0
        var minorVersion = 1
        var status = 0
        var statusText = 0..<0
        var contentLength: Int?
        /// How many times the length was said (`5, 5` is twice).
        var lengthsSaid = 0
        var chunked = false
        var transferEncoded = false
        var closeToken = false
        var keepAliveToken = false
        var connectionNamed: [[UInt8]] = []
        var keepsUnderscores = false

        static func run(_ raw: UnsafeRawBufferPointer, fields: inout [Field], keepsUnderscores: Bool) throws(UpstreamResponseError) -> Scan? {
            var scan = Scan()
            scan.keepsUnderscores = keepsUnderscores
            var start = 0
            var first = true
            while true {
                // Lines end in CRLF; a bare LF is accepted as the end of a line (RFC 9112 §2.2).
                guard let newline = UpstreamResponseHead.lineFeed(in: raw, from: start) else { return nil }
                var end = newline
                if end > start, raw[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if first {
                    try scan.statusLine(raw, start..<end)
                    first = false
                } else if end == start {
                    scan.length = newline + 1
                    return scan
                } else {
                    fields.append(try scan.field(raw, start..<end))
                }
                start = newline + 1
            }
        }

        private mutating func statusLine(_ raw: UnsafeRawBufferPointer, _ line: Range<Int>) throws(UpstreamResponseError) {
            let prefix = "HTTP/1.".utf8
            guard line.count >= 12, zip(raw[line.lowerBound..<line.lowerBound + 7], prefix).allSatisfy({ $0 == $1 }) else {
                throw .malformed("not an HTTP/1.x status line")
            }
            let at = line.lowerBound
            guard raw[at + 7] == UInt8(ascii: "0") || raw[at + 7] == UInt8(ascii: "1"), raw[at + 8] == UInt8(ascii: " ") else {
                throw .malformed("unsupported HTTP version")
            }
            minorVersion = Int(raw[at + 7] - UInt8(ascii: "0"))
            var code = 0
            for index in at + 9..<at + 12 {
                let digit = raw[index] &- UInt8(ascii: "0")
                guard digit < 10 else { throw .malformed("invalid status code") }
                code = code * 10 + Int(digit)
            }
            guard code >= 100, line.count == 12 || raw[at + 12] == UInt8(ascii: " ") else { throw .malformed("invalid status code") }
            for index in at + 12..<line.upperBound where !UpstreamResponseHead.isFieldValueByte(raw[index]) {
                throw .malformed("control character in the status line")
            }
            status = code
            statusText = at + 9..<line.upperBound
        }

        private mutating func field(_ raw: UnsafeRawBufferPointer, _ line: Range<Int>) throws(UpstreamResponseError) -> Field {
            var colon = line.lowerBound
            while colon < line.upperBound, Self.isTokenByte(raw[colon]) { colon += 1 }
            guard colon < line.upperBound, raw[colon] == UInt8(ascii: ":") else {
                let byte = raw[line.lowerBound]
                throw .malformed(
                    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") ? "obsolete line folding in a header" : "invalid header field")
            }
            guard colon > line.lowerBound else { throw .malformed("empty header name") }
            let name = line.lowerBound..<colon
            var valueStart = colon + 1
            var valueEnd = line.upperBound
            while valueStart < valueEnd, raw[valueStart] == UInt8(ascii: " ") || raw[valueStart] == UInt8(ascii: "\t") { valueStart += 1 }
            while valueEnd > valueStart, raw[valueEnd - 1] == UInt8(ascii: " ") || raw[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
            for index in valueStart..<valueEnd where !UpstreamResponseHead.isFieldValueByte(raw[index]) {
                throw .malformed("control character in a header value")
            }
            let forwarded = try classify(
                UnsafeRawBufferPointer(rebasing: raw[name]), value: UnsafeRawBufferPointer(rebasing: raw[valueStart..<valueEnd]))
            return Field(name: name, line: line.lowerBound..<valueEnd, forwarded: forwarded)
        }

        /// Notes what the field says about framing and the connection; returns whether it is
        /// passed on.
        private mutating func classify(_ name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(UpstreamResponseError) -> Bool {
            if !keepsUnderscores, name.contains(UInt8(ascii: "_")) { return false }
            // By length first: most names match none of these and cost one comparison.
            switch name.count {
            case 14 where matches(name, "content-length"):
                try contentLength(value)
                return true
            case 17 where matches(name, "transfer-encoding"):
                transferEncoded = true
                for coding in ListElements(value) {
                    guard !chunked, matches(coding, "chunked") else {
                        throw .malformed("unsupported Transfer-Encoding")
                    }
                    chunked = true
                }
                return false
            case 10 where matches(name, "connection"):
                for option in ListElements(value) {
                    if matches(option, "close") {
                        closeToken = true
                    } else if matches(option, "keep-alive") {
                        keepAliveToken = true
                    } else if !matches(option, "content-length") {
                        // The length frames the body the client reads: it is never dropped for
                        // being named (the client would take the body for the next response).
                        connectionNamed.append(option.map(lowered))
                    }
                }
                return false
            // The other hop-by-hop fields (`ForwardedRequest.hopByHop`).
            case 2: return !matches(name, "te")
            case 7: return !(matches(name, "trailer") || matches(name, "upgrade"))
            case 10: return !matches(name, "keep-alive")
            case 16: return !matches(name, "proxy-connection")
            case 18: return !matches(name, "proxy-authenticate")
            case 19: return !matches(name, "proxy-authorization")
            default: return true
            }
        }

        private mutating func contentLength(_ value: UnsafeRawBufferPointer) throws(UpstreamResponseError) {
            // `Content-Length: 5, 5` is one length said twice (RFC 9110 §8.6); differing ones are refused.
            for element in ListElements(value) {
                var length = 0
                for byte in element {
                    let digit = byte &- UInt8(ascii: "0")
                    guard digit < 10, length < Int.max / 10 - 10 else { throw .malformed("invalid Content-Length") }
                    length = length * 10 + Int(digit)
                }
                if let known = contentLength, known != length { throw .malformed("conflicting Content-Length values") }
                contentLength = length
                lengthsSaid += 1
            }
            if contentLength == nil { throw .malformed("invalid Content-Length") }
        }

        /// The non-empty elements of a comma-separated list, without surrounding whitespace; an
        /// iterator, so reading the usual one-element list allocates nothing.
        private struct ListElements: Sequence, IteratorProtocol {
            var rest: Slice<UnsafeRawBufferPointer>

            init(_ value: UnsafeRawBufferPointer) { rest = value[...] }

            mutating func next() -> Slice<UnsafeRawBufferPointer>? {
                while !rest.isEmpty {
                    let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
                    var element = rest[..<comma]
                    rest = comma == rest.endIndex ? rest[comma...] : rest[(comma + 1)...]
                    while let first = element.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { element = element.dropFirst() }
                    while let last = element.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { element = element.dropLast() }
                    if !element.isEmpty { return element }
                }
                return nil
            }
        }

        private func matches(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
            UpstreamResponseHead.spells(bytes, literal)
        }

        private func matches(_ bytes: Slice<UnsafeRawBufferPointer>, _ literal: StaticString) -> Bool {
            UpstreamResponseHead.spells(UnsafeRawBufferPointer(rebasing: bytes), literal)
        }

        /// tchar (RFC 9110 §5.6.2).
        private static func isTokenByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
                true
            default:
                false
            }
        }
    }
}
