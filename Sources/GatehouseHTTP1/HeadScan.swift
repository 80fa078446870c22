import NIOHTTP1

/// The byte-by-byte reading of a request head (or a chunked body's trailer block), resumable:
/// bytes arrive in pieces, and each is looked at once, as it arrives, so a refusal comes as soon
/// as the byte that earns it (as llhttp's does) and a complete head is found without scanning
/// it again.

struct HeadScan {
    enum Line: UInt8 {
        /// Before the request line: empty lines (CRLF) are skipped (RFC 9112 §2.2).
        case start, startLF
        case method, target, version, requestLineLF
        /// The start of a field line, or of the empty line that ends the head.
        case lineStart, name, valueSpace, value, valueLF, endLF
    }

    private(set) var offset = 0
    private var line: Line
    private var mark = 0
    private(set) var methodEnd = 0
    private(set) var targetStart = 0
    private(set) var targetEnd = 0
    private var versionIndex = 0
    private(set) var major: UInt8 = 0
    private(set) var minor: UInt8 = 0
    private var nameEnd = 0
    private var valueStart = 0
    private var valueEnd = 0
    private(set) var spans: [FieldSpan] = []
    /// In a Content-Length value: the digits read so far (checked as they come, as llhttp does).
    private var lengthDigits: Int?
    private var lengthEnded = false
    private(set) var contentLengthSeen = false
    /// In a Transfer-Encoding value: how much of the coding being read matches `chunked` (nil:
    /// none of it, or not in such a value), and whether the last coding was chunked — any coding
    /// after it is refused as soon as it starts, as llhttp does.
    private var inTransferEncoding = false
    private var transferEncodingSeen = false
    private var codingSeen = false
    private var afterComma = false
    private var codingLength = 0
    private var codingIsChunked = true
    private var chunkedLast = false
    /// In a Connection value.
    private var inConnection = false

    /// A request head, or the fields after a chunked body's last chunk.
    init(trailers: Bool) {
        self.trailers = trailers
        line = trailers ? .lineStart : .start
    }
    private let trailers: Bool

    /// Where the request line starts (after the empty lines before it).
    private(set) var requestLineStart = 0

    /// Reads on from `offset` through `bytes` (the head so far, from its first byte). True once
    /// the empty line that ends the head has been read (`offset` is then just past it).
    mutating func scan(_ bytes: UnsafeRawBufferPointer, limits: RequestParser.Limits) throws(RequestParseError) -> Bool {
        var index = offset
        defer { offset = index }
        let end = min(bytes.count, limits.maxHeadBytes + 1)
        bytesLoop: while index < end {
            var byte = bytes[index]
            switch line {
            case .start:
                if byte == CR {
                    line = .startLF
                } else if byte == LF {
                    throw RequestParseError(.bareLineBreak, at: index)
                } else if Bytes.isToken(byte) {
                    requestLineStart = index
                    line = .method
                } else {
                    throw RequestParseError(.invalidMethod, at: index)
                }
            case .startLF:
                guard byte == LF else { throw RequestParseError(.bareLineBreak, at: index) }
                line = .start
            case .method:
                if byte == SP {
                    methodEnd = index
                    let name = UnsafeRawBufferPointer(rebasing: bytes[requestLineStart..<index])
                    switch Methods.method(name) {
                    case nil where name.elementsEqual(Methods.preface): throw RequestParseError(.http2Preface, at: requestLineStart)
                    case nil where Methods.rtsp.contains(where: { $0.elementsEqual(name) }): throw RequestParseError(.rtspMethod, at: requestLineStart)
                    case nil: throw RequestParseError(.invalidMethod, at: requestLineStart)
                    case .CONNECT?: throw RequestParseError(.connectMethod, at: requestLineStart)
                    default: break
                    }
                    targetStart = index + 1
                    line = .target
                } else if !Bytes.isToken(byte) {
                    throw RequestParseError(.invalidMethod, at: index)
                }
            case .target:
                if byte == SP {
                    if index == targetStart { throw RequestParseError(.spaceInRequestLine, at: index) }
                    targetEnd = index
                    try Targets.checkForm(UnsafeRawBufferPointer(rebasing: bytes[targetStart..<index]), complete: true, at: targetStart)
                    versionIndex = 0
                    line = .version
                } else if byte == CR || byte == LF {
                    // A request line without a version: HTTP/0.9.
                    throw RequestParseError(.unsupportedVersion, at: index)
                } else {
                    try Targets.check(byte, at: index)
                }
            case .version:
                try readVersion(byte, at: index)
            case .requestLineLF:
                guard byte == LF else { throw RequestParseError(.invalidLineEnding, at: index) }
                line = .lineStart
            case .lineStart:
                if byte == CR {
                    line = .endLF
                } else if byte == LF {
                    throw RequestParseError(.bareLineBreak, at: index)
                } else if byte == SP || byte == HTAB {
                    throw RequestParseError(.obsoleteLineFolding, at: index)
                } else if Bytes.isToken(byte) {
                    mark = index
                    line = .name
                } else {
                    throw RequestParseError(.invalidFieldName, at: index)
                }
            case .name:
                // The run of name bytes in one go: most of a head is names and plain values.
                while Bytes.isToken(byte) {
                    index += 1
                    guard index < end else { continue bytesLoop }
                    byte = bytes[index]
                }
                if byte == COLON {
                    nameEnd = index
                    try named(UnsafeRawBufferPointer(rebasing: bytes[mark..<index]), at: mark)
                    line = .valueSpace
                } else if !Bytes.isToken(byte) {
                    throw RequestParseError(.invalidFieldName, at: index)
                }
            case .valueSpace:
                if byte == SP || byte == HTAB {
                    break
                } else if byte == CR {
                    (valueStart, valueEnd) = (index, index)
                    try endValue(at: index)
                    line = .valueLF
                } else if byte == LF {
                    throw RequestParseError(.bareLineBreak, at: index)
                } else if Bytes.isFieldValue(byte) {
                    (valueStart, valueEnd) = (index, index + 1)
                    if lengthDigits != nil { try lengthByte(byte, at: index) }
                    if inTransferEncoding { try codingByte(byte, at: index) }
                    line = .value
                } else {
                    throw RequestParseError(.invalidFieldValue, at: index)
                }
            case .value:
                // A value no framing rule reads: only each byte's class counts, up to its CR.
                if lengthDigits == nil, !inConnection, !inTransferEncoding {
                    while Bytes.isFieldValue(byte) {
                        if byte != SP && byte != HTAB { valueEnd = index + 1 }
                        index += 1
                        guard index < end else { continue bytesLoop }
                        byte = bytes[index]
                    }
                }
                if byte == CR {
                    try endValue(at: index)
                    line = .valueLF
                } else if byte == LF {
                    throw RequestParseError(.bareLineBreak, at: index)
                } else if Bytes.isFieldValue(byte) {
                    if lengthDigits != nil { try lengthByte(byte, at: index) }
                    // llhttp does not read a tab as the whitespace around a connection option or coding.
                    if inConnection || inTransferEncoding, byte == HTAB { throw RequestParseError(.tabInFramingValue, at: index) }
                    if inTransferEncoding { try codingByte(byte, at: index) }
                    if byte != SP && byte != HTAB { valueEnd = index + 1 }
                } else {
                    throw RequestParseError(.invalidFieldValue, at: index)
                }
            case .valueLF:
                guard byte == LF else { throw RequestParseError(.invalidLineEnding, at: index) }
                guard spans.count < limits.maxFields else { throw RequestParseError(.tooManyFields, at: mark) }
                spans.append(FieldSpan(nameStart: Int32(mark), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart), valueEnd: Int32(valueEnd)))
                line = .lineStart
            case .endLF:
                guard byte == LF else { throw RequestParseError(.invalidLineEnding, at: index) }
                index += 1
                return true
            }
            index += 1
        }
        if index > limits.maxHeadBytes { throw RequestParseError(.headTooLarge, at: limits.maxHeadBytes) }
        // The bytes so far must still be able to become a request line, as llhttp checks them.
        if line == .method, !Methods.isPrefix(UnsafeRawBufferPointer(rebasing: bytes[requestLineStart..<index])) {
            throw RequestParseError(.invalidMethod, at: requestLineStart)
        }
        if line == .target, index > targetStart {
            try Targets.checkForm(UnsafeRawBufferPointer(rebasing: bytes[targetStart..<index]), complete: false, at: targetStart)
        }
        return false
    }

    /// A field's name is complete: Content-Length's value is checked byte by byte.
    private mutating func named(_ name: UnsafeRawBufferPointer, at offset: Int) throws(RequestParseError) {
        if trailers {
            // Fields that frame or manage the connection have no place after the body (RFC 9110
            // §6.5.1), and llhttp would still act on some of them.
            if Self.headOnly.contains(where: { Bytes.equal(name, $0) }) { throw RequestParseError(.framingFieldInTrailers, at: offset) }
            return
        }
        if name.count == 10, Bytes.equal(name, "connection") { inConnection = true }
        guard name.count == 14 || name.count == 17 else { return }
        // Content-Length beside Transfer-Encoding is refused at the second one's name, before
        // llhttp would (at its value).
        if Bytes.equal(name, "transfer-encoding") {
            if contentLengthSeen { throw RequestParseError(.contentLengthWithTransferEncoding, at: offset) }
            transferEncodingSeen = true
            inTransferEncoding = true
            (codingSeen, afterComma) = (false, false)
            (codingLength, codingIsChunked) = (0, true)
            return
        }
        guard Bytes.equal(name, "content-length") else { return }
        if contentLengthSeen { throw RequestParseError(.duplicateContentLength, at: offset) }
        if transferEncodingSeen { throw RequestParseError(.contentLengthWithTransferEncoding, at: offset) }
        contentLengthSeen = true
        lengthDigits = 0
        lengthEnded = false
    }

    /// A value has ended (its CR): Content-Length and Transfer-Encoding are checked whole.
    private mutating func endValue(at index: Int) throws(RequestParseError) {
        if lengthDigits == 0 { throw RequestParseError(.emptyContentLength, at: valueStart) }
        lengthDigits = nil
        if inTransferEncoding {
            if afterComma || !codingSeen { throw RequestParseError(.emptyTransferCoding, at: index) }
            endCoding()
        }
        (inTransferEncoding, inConnection) = (false, false)
    }

    private mutating func codingByte(_ byte: UInt8, at index: Int) throws(RequestParseError) {
        if byte == UInt8(ascii: ",") {
            // An empty coding (`chunked,,`, `, chunked`), refused as it shows, as llhttp refuses it.
            if codingLength == 0, !codingSeen || afterComma { throw RequestParseError(.emptyTransferCoding, at: index) }
            endCoding()
            // Nothing may follow chunked: llhttp refuses at the comma already.
            if chunkedLast { throw RequestParseError(.transferCodingAfterChunked, at: index) }
            afterComma = true
            return
        }
        if byte == SP || byte == HTAB {
            endCoding()
            return
        }
        (codingSeen, afterComma) = (true, false)
        if codingLength == 0, chunkedLast { throw RequestParseError(.transferCodingAfterChunked, at: index) }
        codingIsChunked = codingIsChunked && codingLength < 7 && Bytes.lowered(byte) == Self.chunked[codingLength]
        codingLength += 1
    }

    private mutating func endCoding() {
        if codingLength > 0 { chunkedLast = codingIsChunked && codingLength == 7 }
        (codingLength, codingIsChunked) = (0, true)
    }

    private static let chunked: [UInt8] = Array("chunked".utf8)
    private static let headOnly: [StaticString] = ["content-length", "transfer-encoding", "connection", "upgrade", "host"]

    private mutating func lengthByte(_ byte: UInt8, at index: Int) throws(RequestParseError) {
        // Spaces may follow the digits; llhttp refuses a tab there, and so does this.
        if byte == SP {
            lengthEnded = true
        } else if Bytes.isDigit(byte), !lengthEnded, let digits = lengthDigits {
            // 18 digits: under 2^63 whatever they are.
            if digits == 18 { throw RequestParseError(.contentLengthTooLarge, at: index) }
            lengthDigits = digits + 1
        } else {
            throw RequestParseError(.invalidContentLength, at: index)
        }
    }

    /// `HTTP/` DIGIT `.` DIGIT, then CRLF.
    private mutating func readVersion(_ byte: UInt8, at index: Int) throws(RequestParseError) {
        defer { versionIndex += 1 }
        switch versionIndex {
        case 0..<5:
            if versionIndex == 0, byte == SP { throw RequestParseError(.spaceInRequestLine, at: index) }
            // llhttp also reads RTSP/ and ICE/ request lines.
            if versionIndex == 0, byte == UInt8(ascii: "R") || byte == UInt8(ascii: "I") {
                throw RequestParseError(.unsupportedVersion, at: index)
            }
            guard byte == Self.httpSlash[versionIndex] else { throw RequestParseError(.invalidVersion, at: index) }
        case 5:
            guard Bytes.isDigit(byte) else { throw RequestParseError(.invalidVersion, at: index) }
            major = byte - UInt8(ascii: "0")
        case 6:
            guard byte == UInt8(ascii: ".") else { throw RequestParseError(.invalidVersion, at: index) }
        case 7:
            guard Bytes.isDigit(byte) else { throw RequestParseError(.invalidVersion, at: index) }
            minor = byte - UInt8(ascii: "0")
            // Checked at the minor digit, as llhttp does: 0.9, 2.0 and 3.0 are versions (this
            // port serves 1.0 and 1.1), anything else is not.
            switch (major, minor) {
            case (1, 0), (1, 1): break
            case (0, 9), (2, 0), (3, 0): throw RequestParseError(.unsupportedVersion, at: index - 2)
            default: throw RequestParseError(.invalidVersion, at: index - 2)
            }
        default:
            if byte == LF { throw RequestParseError(.bareLineBreak, at: index) }
            if byte == SP { throw RequestParseError(.spaceInRequestLine, at: index) }
            guard byte == CR else { throw RequestParseError(.invalidVersion, at: index) }
            line = .requestLineLF
        }
    }

    private static let httpSlash: [UInt8] = Array("HTTP/".utf8)
}

let CR = UInt8(ascii: "\r")
let LF = UInt8(ascii: "\n")
let SP = UInt8(ascii: " ")
let HTAB = UInt8(ascii: "\t")
let COLON = UInt8(ascii: ":")
