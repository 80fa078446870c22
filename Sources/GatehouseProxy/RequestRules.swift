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

    private static let hostName = ["host"]

    static func check(_ head: HTTPRequestHead, options: ProxyOptions) -> Refusal? {
        switch head.method {
        case .TRACE:
            return Refusal(status: .methodNotAllowed, code: "method_not_allowed", message: "TRACE is refused: it would echo credentials back")
        case .CONNECT:
            return Refusal(status: .methodNotAllowed, code: "method_not_allowed", message: "CONNECT tunnels are not supported")
        default: break
        }
        if head.version.major == 1, head.version.minor >= 1, !head.headers.contains(name: "host") {
            return Refusal(status: .badRequest, code: "bad_request", message: "an HTTP/1.1 request needs a Host header")
        }
        // Counted in place: `headers["host"]` would build an array for every request.
        if head.headers.lazy.filter({ ForwardedRequest.isListed($0.name, hostName) }).count > 1 {
            return Refusal(status: .badRequest, code: "bad_request", message: "a request has one Host header, not several")
        }
        if head.version.major == 1, head.version.minor == 0, head.headers.contains(name: "transfer-encoding") {
            return Refusal(status: .badRequest, code: "bad_request", message: "Transfer-Encoding is not defined for HTTP/1.0")
        }
        if let limit = options.maxBodyBytes, let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit {
            return Refusal(status: .payloadTooLarge, code: "body_too_large", message: "the request body is \(length) bytes; the limit is \(limit)")
        }
        return nil
    }
}
