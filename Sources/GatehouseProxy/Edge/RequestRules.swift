import GatehouseModel
import NIOHTTP1

/// What the edge refuses in a request head before routing it (RFC 9110/9112 as an intermediary).
/// Every refusal closes the connection: after a malformed request, where the next one starts is
/// no longer certain.
enum RequestRules {
    struct Refusal: Error {
        let status: HTTPResponseStatus
        let code: String
        let message: String
    }

    private static let hostName = FieldNameSet(["host"])
    private static let transferEncodingName = FieldNameSet(["transfer-encoding"])

    static func check(_ head: HTTPRequestHead, options: ProxyOptions) -> Refusal? {
        // First: everything after this looks at each field.
        if head.headers.count > options.maxHeaderCount {
            return Refusal(
                status: .requestHeaderFieldsTooLarge, code: "headers_too_large",
                message: "the request has \(head.headers.count) header fields; the limit is \(options.maxHeaderCount)")
        }
        switch head.method {
        case .TRACE where !options.allowsTrace:
            return Refusal(status: .methodNotAllowed, code: "method_not_allowed", message: "TRACE is refused: it would echo credentials back")
        case .CONNECT:
            return Refusal(status: .methodNotAllowed, code: "method_not_allowed", message: "CONNECT tunnels are not supported")
        default: break
        }
        // One pass over the fields, and no arrays: this runs for every request.
        var hosts = 0
        var validHosts = true
        var transferEncoding = false
        for (name, value) in head.headers {
            if hostName.contains(name) {
                hosts += 1
                validHosts = validHosts && RequestAuthority.isValid(value)
            } else if transferEncodingName.contains(name) {
                transferEncoding = true
            }
        }
        if head.version.major == 1, head.version.minor >= 1, hosts == 0 {
            return Refusal(status: .badRequest, code: "bad_request", message: "an HTTP/1.1 request needs a Host header")
        }
        if hosts > 1 {
            return Refusal(status: .badRequest, code: "bad_request", message: "a request has one Host header, not several")
        }
        if !validHosts {
            return Refusal(status: .badRequest, code: "bad_request", message: "the Host header is not a valid host[:port]")
        }
        // An http(s) URI's host is never empty (RFC 9110 §4.2.1), unlike a Host header's.
        if head.uri.utf8.first != UInt8(ascii: "/"), let authority = RequestTarget.originForm(head.uri).authority,
            authority.isEmpty || authority.utf8.first == UInt8(ascii: ":") || !RequestAuthority.isValid(authority)
        {
            return Refusal(status: .badRequest, code: "bad_request", message: "the request target's authority is not a valid host[:port]")
        }
        if transferEncoding {
            if head.version.major == 1, head.version.minor == 0 {
                return Refusal(status: .badRequest, code: "bad_request", message: "Transfer-Encoding is not defined for HTTP/1.0")
            }
            if let refusal = checkTransferCoding(head.headers) { return refusal }
        }
        if let limit = options.maxBodyBytes, let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit {
            return Refusal(status: .payloadTooLarge, code: "body_too_large", message: "the request body is \(length) bytes; the limit is \(limit)")
        }
        return nil
    }

    /// A request's body is framed by `chunked` alone: when it is not the last coding the body's
    /// length is unknown (400, RFC 9112 §6.3); any other coding the gateway would pass on
    /// unlabelled once it has taken the chunk framing off, so it is refused (501, §6.1) before
    /// anything goes upstream.
    static func checkTransferCoding(_ headers: HTTPHeaders) -> Refusal? {
        var codings: [String] = []
        for (name, value) in headers where transferEncodingName.contains(name) {
            codings += value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingASCIISpaces() }
        }
        guard let last = codings.last else { return nil }
        if codings.contains(where: \.isEmpty) {
            return Refusal(status: .badRequest, code: "bad_request", message: "Transfer-Encoding has an empty coding")
        }
        guard last.lowercased() == "chunked" else {
            return Refusal(
                status: .badRequest, code: "bad_request",
                message: "the body's length cannot be determined: Transfer-Encoding does not end with chunked")
        }
        if codings.count > 1 {
            let other = codings.first { $0.lowercased() != "chunked" } ?? "chunked"
            return Refusal(
                status: .notImplemented, code: "unsupported_transfer_coding",
                message: "transfer coding '\(other)' is not supported; request bodies may only be chunked")
        }
        return nil
    }
}
