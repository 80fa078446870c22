import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// What the edge refuses in a request head before routing it (RFC 9110/9112 as an intermediary).
/// The parser (GatehouseHTTP1) refuses what does not frame; these are the rules of a head that
/// does. Every refusal closes the connection: after a refused request, where the next one starts
/// is no longer certain.
enum RequestRules {
    struct Refusal: Error {
        let status: HTTPResponseStatus
        let code: String
        let message: String
    }

    /// The answer to bytes the parser refused: 431 past a limit, 505 for another protocol's
    /// request line, 405 for `CONNECT`, else 400 saying what was wrong.
    static func refusal(_ error: RequestParseError) -> Refusal {
        switch error.reason {
        case .headTooLarge, .tooManyFields:
            Refusal(status: .requestHeaderFieldsTooLarge, code: "headers_too_large", message: error.description)
        case .http2Preface, .unsupportedVersion:
            Refusal(status: .httpVersionNotSupported, code: "http_version_not_supported", message: error.description)
        case .connectMethod:
            Refusal(status: .methodNotAllowed, code: "method_not_allowed", message: error.description)
        default:
            Refusal(status: .badRequest, code: "bad_request", message: "malformed HTTP request: \(error.description)")
        }
    }

    /// The rules a parsed head may still break: its framing is sound (the parser saw to it).
    static func check(_ head: RequestHead, options: ProxyOptions) -> Refusal? {
        if head.method == .TRACE, !options.allowsTrace {
            return Refusal(status: .methodNotAllowed, code: "method_not_allowed", message: "TRACE is refused: it would echo credentials back")
        }
        // One pass over the fields' names, and no arrays: this runs for every request.
        var hosts = 0
        var validHosts = true
        head.fields.forEach(named: "host") { field in
            hosts += 1
            validHosts = validHosts && RequestAuthority.isValid(field.value)
        }
        if head.version.minor >= 1, hosts == 0 {
            return Refusal(status: .badRequest, code: "bad_request", message: "an HTTP/1.1 request needs a Host header")
        }
        if hosts > 1 {
            return Refusal(status: .badRequest, code: "bad_request", message: "a request has one Host header, not several")
        }
        if !validHosts {
            return Refusal(status: .badRequest, code: "bad_request", message: "the Host header is not a valid host[:port]")
        }
        // An http(s) URI's host is never empty (RFC 9110 §4.2.1), unlike a Host header's.
        if !head.targetIsOriginForm, let authority = RequestTarget.originForm(head.target).authority,
            authority.isEmpty || authority.utf8.first == UInt8(ascii: ":") || !RequestAuthority.isValid(authority)
        {
            return Refusal(status: .badRequest, code: "bad_request", message: "the request target's authority is not a valid host[:port]")
        }
        // The parser let `Transfer-Encoding` through only where it ends in chunked.
        if head.framing == .chunked, let refusal = checkTransferCoding(head.fields) { return refusal }
        if let limit = options.maxBodyBytes, case .length(let length) = head.framing, length > limit {
            return Refusal(status: .payloadTooLarge, code: "body_too_large", message: "the request body is \(length) bytes; the limit is \(limit)")
        }
        return nil
    }

    /// A request's body is framed by `chunked` alone (the parser refused any other last
    /// coding): another coding before it the gateway would pass on unlabelled once it has taken
    /// the chunk framing off, so it is refused (501, RFC 9112 §6.1) before anything goes upstream.
    static func checkTransferCoding(_ fields: RequestFields) -> Refusal? {
        let codings = fields[elements: "transfer-encoding"]
        guard codings.count > 1 else { return nil }
        let other = codings.first { $0.lowercased() != "chunked" } ?? "chunked"
        return Refusal(
            status: .notImplemented, code: "unsupported_transfer_coding",
            message: "transfer coding '\(other)' is not supported; request bodies may only be chunked")
    }
}
