/// Why the request parser refused a client's bytes. Every refusal ends the connection's
/// requests: after bytes that do not frame, where the next request starts is unknown.
public struct RequestParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: UInt8, Sendable, CaseIterable {
        // Refused by llhttp too.
        case invalidMethod
        case invalidTarget
        case invalidVersion
        case invalidFieldName
        case invalidFieldValue
        case invalidLineEnding
        case invalidContentLength
        case duplicateContentLength
        case contentLengthWithTransferEncoding
        case unframedTransferEncoding
        case invalidChunkSize
        case invalidChunkEnding
        case requestAfterClose
        // Refused by Gatehouse where llhttp accepts, or earlier (`isStricterThanLLHTTP`).
        case bareLineBreak
        case obsoleteLineFolding
        case nonASCIITarget
        case targetFragment
        case targetForm
        case unsupportedVersion
        case transferEncodingInHTTP10
        case emptyTransferCoding
        case chunkExtension
        case spaceInRequestLine
        case connectMethod
        case contentLengthTooLarge
        case transferEncodingOnUpgrade
        case framingFieldInTrailers
        case chunkSizeTooLarge
        case http2Preface
        case rtspMethod
        case transferCodingAfterChunked
        case emptyContentLength
        case tabInFramingValue
        // Limits.
        case headTooLarge
        case tooManyFields
    }

    public let reason: Reason
    /// Where in the head or chunk line the parser stopped (bytes from the start of the request).
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// Refusals llhttp (SwiftNIO's decoder) would not make, or not as early: each is a listed,
    /// deliberate choice (docs/routing.md).
    public var isStricterThanLLHTTP: Bool {
        switch reason {
        case .bareLineBreak, .obsoleteLineFolding, .nonASCIITarget, .targetFragment, .targetForm, .unsupportedVersion,
            .transferEncodingInHTTP10, .emptyTransferCoding, .chunkExtension, .spaceInRequestLine, .connectMethod,
            .contentLengthTooLarge, .transferEncodingOnUpgrade, .framingFieldInTrailers, .chunkSizeTooLarge, .http2Preface, .rtspMethod,
            .transferCodingAfterChunked, .emptyContentLength, .tabInFramingValue,
            // llhttp refuses these too, but only at the second field's value.
            .contentLengthWithTransferEncoding, .duplicateContentLength:
            true
        default:
            false
        }
    }

    public var isLimit: Bool { reason == .headTooLarge || reason == .tooManyFields }

    public var description: String {
        switch reason {
        case .invalidMethod: "the method is not a known HTTP method"
        case .invalidTarget: "the request target has a character that is not allowed"
        case .invalidVersion: "the HTTP version is not HTTP/1.0 or HTTP/1.1"
        case .invalidFieldName: "a header field name has a character that is not allowed"
        case .invalidFieldValue: "a header field value has a control character"
        case .invalidLineEnding: "a line does not end with CRLF"
        case .invalidContentLength: "Content-Length is not a number of bytes"
        case .duplicateContentLength: "the request has more than one Content-Length"
        case .contentLengthWithTransferEncoding: "the request has both Content-Length and Transfer-Encoding"
        case .unframedTransferEncoding: "the body's length cannot be determined: Transfer-Encoding does not end with chunked"
        case .invalidChunkSize: "a chunk size is not a hexadecimal number"
        case .invalidChunkEnding: "a chunk's data does not end with CRLF"
        case .bareLineBreak: "a line ends with a bare LF or CR"
        case .obsoleteLineFolding: "a header field is folded over several lines (obsolete, RFC 9112 §5.2)"
        case .nonASCIITarget: "the request target has bytes outside ASCII"
        case .targetFragment: "the request target has a fragment (#), which a client never sends"
        case .targetForm: "the request target is not a path, an http(s) URI or *"
        case .unsupportedVersion: "the request line is not HTTP/1.0 or HTTP/1.1"
        case .transferEncodingInHTTP10: "Transfer-Encoding is not defined for HTTP/1.0"
        case .emptyTransferCoding: "Transfer-Encoding has an empty coding"
        case .chunkExtension: "chunk extensions are not accepted"
        case .spaceInRequestLine: "the request line has more than one space between its parts"
        case .connectMethod: "CONNECT tunnels are not supported"
        case .contentLengthTooLarge: "Content-Length is over 18 digits"
        case .transferEncodingOnUpgrade: "an upgrade request's Transfer-Encoding does not end with chunked"
        case .chunkSizeTooLarge: "a chunk size is over 15 hexadecimal digits"
        case .rtspMethod: "RTSP methods are not HTTP methods"
        case .transferCodingAfterChunked: "Transfer-Encoding has a coding after chunked, which must be the last (RFC 9112 §6.1)"
        case .emptyContentLength: "Content-Length is empty"
        case .tabInFramingValue: "a Connection or Transfer-Encoding value has a tab, which parsers read two ways"
        case .http2Preface: "HTTP/2 with prior knowledge is not served on an HTTP/1 port"
        case .requestAfterClose: "the client sent more after a request that closes the connection"
        case .framingFieldInTrailers: "a trailer field frames the message or manages the connection (RFC 9110 §6.5.1)"
        case .headTooLarge: "the request head is over the size limit"
        case .tooManyFields: "the request has more header fields than the limit"
        }
    }
}
