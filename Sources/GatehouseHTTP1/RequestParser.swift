import NIOCore
import NIOHTTP1

/// Reads HTTP/1 requests from a client's bytes: heads as ranges of the bytes they came in, bodies
/// as slices of them, framed by `Content-Length` or `chunked` (RFC 9112), one request after
/// another. At least as strict as llhttp (SwiftNIO's decoder), which the test suite checks it
/// against byte for byte; where it is stricter, `RequestParseError.isStricterThanLLHTTP` says so
/// and docs/routing.md says why.
///
/// The caller keeps the bytes not yet taken (`buffer`'s readable bytes) and appends what arrives
/// next; `next` takes each part as soon as it is complete, and body bytes as they come.
public struct RequestParser: Sendable {
    public struct Limits: Sendable {
        /// The request line and fields, in bytes (431 past it).
        public var maxHeadBytes: Int
        /// Header fields in a head, and trailer fields after a body (431 past it).
        public var maxFields: Int

        public init(maxHeadBytes: Int = 32 * 1024, maxFields: Int = 100) {
            self.maxHeadBytes = maxHeadBytes
            self.maxFields = maxFields
        }
    }

    public enum Part: Sendable {
        case head(RequestHead)
        /// Some of the body's bytes (chunked bodies without their framing).
        case body(ByteBuffer)
        /// The request has ended; the fields are a chunked body's trailers.
        case end(RequestFields)
    }

    private enum Stage {
        case head
        case body(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        /// After a request that switched protocols: the bytes are not HTTP/1 requests.
        case upgraded
        /// After a request that closes the connection: no byte may follow.
        case closed
        case failed(RequestParseError)
    }

    public let limits: Limits
    private var stage = Stage.head
    private var scan = HeadScan(trailers: false)
    private var upgrading = false
    private var closing = false
    /// How far into the current request's bytes the parser is, for error offsets.
    private var consumed = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// No request has begun: the connection is between requests.
    public var isIdle: Bool {
        if case .head = stage { return scan.offset == 0 }
        return false
    }

    /// The request before has ended: what the parser reads next is another request's (or, after
    /// one that closes the connection or switches protocols, nothing it will take).
    public var isBetweenRequests: Bool {
        switch stage {
        case .head, .closed, .upgraded: true
        default: false
        }
    }

    /// The last request switched protocols: what follows is the tunnel's.
    public var isUpgraded: Bool {
        if case .upgraded = stage { return true }
        return false
    }

    /// The next part from `buffer`, taking its bytes; nil when more bytes are needed (or after an
    /// upgrade). After a throw, every call throws the same error.
    public mutating func next(_ buffer: inout ByteBuffer) throws(RequestParseError) -> Part? {
        do {
            return try step(&buffer)
        } catch {
            stage = .failed(error)
            throw error
        }
    }

    private mutating func step(_ buffer: inout ByteBuffer) throws(RequestParseError) -> Part? {
        switch stage {
        case .failed(let error):
            throw error
        case .upgraded:
            return nil
        case .closed:
            // Empty lines are let go, as between requests; anything else is a request too many.
            while let byte = buffer.readInteger(as: UInt8.self) {
                guard byte == CR || byte == LF else { throw RequestParseError(.requestAfterClose, at: 0) }
            }
            return nil
        case .head:
            guard try scanned(buffer) else { return nil }
            let bytes = buffer.readSlice(length: scan.offset)!
            let head = try Self.head(bytes, scan)
            consumed = scan.offset
            scan = HeadScan(trailers: false)
            upgrading = head.upgrade
            closing = !head.isKeepAlive
            switch head.framing {
            case .chunked: stage = .chunkLine
            case .length(let length): stage = .body(remaining: length)
            }
            return .head(head)
        case .body(let remaining):
            if remaining == 0 { return ended(RequestFields()) }
            guard buffer.readableBytes > 0 else { return nil }
            let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            stage = .body(remaining: remaining - slice.readableBytes)
            consumed += slice.readableBytes
            return .body(slice)
        case .chunkLine:
            guard let size = try chunkSize(&buffer) else { return nil }
            if size == 0 {
                scan = HeadScan(trailers: true)
                stage = .trailers
            } else {
                stage = .chunkData(remaining: size)
            }
            return try step(&buffer)
        case .chunkData(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            stage = slice.readableBytes == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - slice.readableBytes)
            consumed += slice.readableBytes
            return .body(slice)
        case .chunkDataEnd:
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            guard first == CR else { throw RequestParseError(.invalidChunkEnding, at: consumed) }
            guard let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
            guard second == LF else { throw RequestParseError(.invalidChunkEnding, at: consumed + 1) }
            buffer.moveReaderIndex(forwardBy: 2)
            consumed += 2
            stage = .chunkLine
            return try step(&buffer)
        case .trailers:
            guard try scanned(buffer) else { return nil }
            let bytes = buffer.readSlice(length: scan.offset)!
            let trailers = RequestFields(bytes: bytes, spans: scan.spans)
            scan = HeadScan(trailers: false)
            return ended(trailers)
        }
    }

    private mutating func ended(_ trailers: RequestFields) -> Part {
        stage = upgrading ? .upgraded : closing ? .closed : .head
        upgrading = false
        closing = false
        consumed = 0
        return .end(trailers)
    }

    private mutating func scanned(_ buffer: ByteBuffer) throws(RequestParseError) -> Bool {
        let limits = limits
        var scan = self.scan
        defer { self.scan = scan }
        do {
            return try buffer.withUnsafeReadableBytes { bytes throws(RequestParseError) in try scan.scan(bytes, limits: limits) }
        } catch {
            throw RequestParseError(error.reason, at: consumed + error.offset)
        }
    }

    /// A chunk-size line (hex digits, CRLF), taken once complete; nil until it is.
    private mutating func chunkSize(_ buffer: inout ByteBuffer) throws(RequestParseError) -> Int? {
        var size = 0
        var digits = 0
        let view = buffer.readableBytesView
        var index = view.startIndex
        while index < view.endIndex {
            let byte = view[index]
            let at = consumed + index - view.startIndex
            if let value = Bytes.hexValue(byte) {
                // 15 hex digits: over a petabyte, and no overflow.
                guard digits < 15 else { throw RequestParseError(digits == 15 ? .chunkSizeTooLarge : .invalidChunkSize, at: at) }
                size = size << 4 | Int(value)
                digits += 1
            } else if byte == CR, digits > 0 {
                guard index + 1 < view.endIndex else { return nil }
                guard view[index + 1] == LF else { throw RequestParseError(.invalidLineEnding, at: at + 1) }
                let length = index + 2 - view.startIndex
                buffer.moveReaderIndex(forwardBy: length)
                consumed += length
                return size
            } else if byte == UInt8(ascii: ";"), digits > 0 {
                throw RequestParseError(.chunkExtension, at: at)
            } else if byte == LF, digits > 0 {
                throw RequestParseError(.bareLineBreak, at: at)
            } else {
                throw RequestParseError(.invalidChunkSize, at: at)
            }
            index += 1
        }
        return nil
    }

    /// The head's fields read for framing: the body's length, and whether it upgrades.
    private static func head(_ bytes: ByteBuffer, _ scan: HeadScan) throws(RequestParseError) -> RequestHead {
        let method = bytes.withUnsafeReadableBytes { Methods.method(UnsafeRawBufferPointer(rebasing: $0[scan.requestLineStart..<scan.methodEnd])) }!
        let version = HTTPVersion(major: Int(scan.major), minor: Int(scan.minor))
        var contentLength: Int?
        var transferEncoding = false
        var lastCoding = ""
        var connectionUpgrade = false
        var connectionClose = false
        var connectionKeepAlive = false
        var upgradeField = false
        let fields = RequestFields(bytes: bytes, spans: scan.spans)
        // By the name's length first: a `Field` (and its retain of the buffer) only for a name
        // that may be one of these.
        for (index, span) in scan.spans.enumerated() {
            let offset = Int(span.nameStart)
            let length = span.nameEnd - span.nameStart
            guard length == 14 || length == 17 || length == 10 || length == 7 else { continue }
            let field = fields[index]
            switch length {
            case 14 where field.hasName("content-length"):
                guard contentLength == nil else { throw RequestParseError(.duplicateContentLength, at: offset) }
                guard let length = field.withBytes({ _, value in Self.length(value) }) else {
                    throw RequestParseError(.invalidContentLength, at: offset)
                }
                contentLength = length
            case 17 where field.hasName("transfer-encoding"):
                transferEncoding = true
                for coding in field.value.split(separator: ",", omittingEmptySubsequences: false) {
                    let trimmed = coding.trimmingCharacters(in: " \t")
                    if trimmed.isEmpty { throw RequestParseError(.emptyTransferCoding, at: offset) }
                    // chunked is applied once, and last (RFC 9112 §6.1).
                    if lastCoding.lowercased() == "chunked" { throw RequestParseError(.transferCodingAfterChunked, at: offset) }
                    lastCoding = trimmed
                }
            case 10 where field.hasName("connection"):
                for option in field.value.split(separator: ",") {
                    switch option.trimmingCharacters(in: " \t").lowercased() {
                    case "upgrade": connectionUpgrade = true
                    case "close": connectionClose = true
                    case "keep-alive": connectionKeepAlive = true
                    default: break
                    }
                }
            case 7 where field.hasName("upgrade"):
                // llhttp upgrades only for a protocol named.
                if field.valueLength > 0 { upgradeField = true }
            default:
                break
            }
        }
        var framing = BodyFraming.length(contentLength ?? 0)
        if transferEncoding {
            if version.minor == 0 { throw RequestParseError(.transferEncodingInHTTP10, at: 0) }
            if contentLength != nil { throw RequestParseError(.contentLengthWithTransferEncoding, at: 0) }
            guard lastCoding.lowercased() == "chunked" else {
                // llhttp reads no body for an upgrade whatever its coding; Gatehouse refuses the request.
                let upgrade = connectionUpgrade && upgradeField
                throw RequestParseError(upgrade ? .transferEncodingOnUpgrade : .unframedTransferEncoding, at: 0)
            }
            framing = .chunked
        }
        return RequestHead(
            method: method, version: version, targetStart: Int32(scan.targetStart), targetEnd: Int32(scan.targetEnd), fields: fields,
            framing: framing, upgrade: connectionUpgrade && upgradeField,
            isKeepAlive: !connectionClose && (version.minor >= 1 || connectionKeepAlive))
    }

    /// 1*DIGIT, at most 18 of them (the scan checked them as they came).
    private static func length(_ value: UnsafeRawBufferPointer) -> Int? {
        guard !value.isEmpty, value.count <= 18 else { return nil }
        var length = 0
        for byte in value {
            guard Bytes.isDigit(byte) else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return length
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let trimmed = drop { set.contains($0) }
        return String(trimmed.reversed().drop { set.contains($0) }.reversed())
    }
}
