import GatehouseModel
import NIOCore
import NIOHTTP1

/// Header rules for what crosses the proxy in each direction: hop-by-hop headers (and those a
/// `Connection` header names) never cross; `X-Forwarded-*` are set by the gateway.
enum ForwardedRequest {
    static let hopByHop: [String] = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// `hopByHop` as bytes, for fields compared where they were read.
    static let hopByHopBytes: [[UInt8]] = hopByHop.map { Array($0.utf8) }

    /// Client-supplied forwarding headers are replaced, not trusted.
    static let replacedForwarding: [String] = [
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "forwarded", "x-real-ip",
    ]

    private static let connectionHeader = ["connection"]
    private static let connectionOptions = ["close", "keep-alive"]

    /// Names listed in `Connection` headers, lowercased. `close` and `keep-alive` (hop-by-hop
    /// anyway) are left out, so the usual `Connection` header costs no allocation.
    static func connectionNamed(_ headers: HTTPHeaders) -> [String] {
        var names: [String] = []
        for (name, value) in headers where isListed(name, connectionHeader) {
            for token in value.utf8.split(separator: UInt8(ascii: ",")) {
                var token = token[...]
                while let first = token.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { token = token.dropFirst() }
                while let last = token.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { token = token.dropLast() }
                if token.isEmpty || isListed(token, connectionOptions) { continue }
                names.append(String(decoding: token, as: UTF8.self).lowercased())
            }
        }
        return names
    }

    /// Copies `headers` without hop-by-hop ones, those in `dropping` (lowercase), and names
    /// containing `_` (which some servers read as `-`, letting a client smuggle a header past a
    /// check). Runs per request in both directions, so it compares names without allocating.
    static func endToEnd(_ headers: HTTPHeaders, dropping: [String] = []) -> HTTPHeaders {
        let named = headers.contains(name: "connection") ? connectionNamed(headers) : []
        var out = HTTPHeaders()
        out.reserveCapacity(headers.count + 6)
        for (name, value) in headers {
            if name.utf8.contains(UInt8(ascii: "_")) || isListed(name, hopByHop) || isListed(name, dropping) || isListed(name, named) {
                continue
            }
            out.add(name: name, value: value)
        }
        return out
    }

    /// Whether `name` equals one of the lowercase `names`, ignoring ASCII case.
    @inline(__always)
    static func isListed(_ name: String, _ names: [String]) -> Bool {
        isListed(name.utf8[...], names)
    }

    static func isListed(_ name: Substring.UTF8View, _ names: [String]) -> Bool {
        let count = name.count
        for candidate in names where candidate.utf8.count == count {
            if name.elementsEqual(candidate.utf8, by: { ($0 | 0x20) == $1 || $0 == $1 }) { return true }
        }
        return false
    }

    /// Sets `X-Forwarded-For/Proto/Host/Port`. From a trusted proxy, the client address is
    /// appended to its `X-Forwarded-For` and its other forwarding headers are kept.
    static func addForwarding(to headers: inout HTTPHeaders, clientIP: String, host: String, port: Int, trusted: Bool) {
        if trusted, let chain = headers.first(name: "x-forwarded-for") {
            headers.replaceOrAdd(name: "x-forwarded-for", value: "\(chain), \(clientIP)")
        } else {
            headers.replaceOrAdd(name: "x-forwarded-for", value: clientIP)
        }
        if !(trusted && headers.contains(name: "x-forwarded-proto")) { headers.replaceOrAdd(name: "x-forwarded-proto", value: "http") }
        if !(trusted && headers.contains(name: "x-forwarded-host")), !host.isEmpty { headers.replaceOrAdd(name: "x-forwarded-host", value: host) }
        if !(trusted && headers.contains(name: "x-forwarded-port")) { headers.replaceOrAdd(name: "x-forwarded-port", value: String(port)) }
    }

    /// Appends this hop to `Via` (RFC 9110 §7.6.3).
    static func appendVia(to headers: inout HTTPHeaders, version: HTTPVersion) {
        let hop = "\(version.major).\(version.minor) gatehouse"
        if let via = headers.first(name: "via") {
            headers.replaceOrAdd(name: "via", value: "\(via), \(hop)")
        } else {
            headers.add(name: "via", value: hop)
        }
    }

    /// Removes `.` and `..` segments (RFC 3986 §5.2.4) from a path that starts with `/`.
    static func removeDotSegments(_ path: String) -> String {
        if !path.contains(".") { return path }
        var output: [Substring] = []
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            let last = index == segments.count - 1
            switch segment {
            case ".":
                if last { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if last { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}
