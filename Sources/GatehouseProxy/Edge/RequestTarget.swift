import GatehouseModel

/// A request target checked and normalized for routing: the path the gateway routes on is the
/// path it forwards.
///
/// Refused: fragments (`#`), backslashes, control characters and spaces, malformed
/// percent-encoding, and an encoded NUL (`%00`) in the path. Normalized: percent-encoded
/// unreserved characters are decoded (`%2e` is `.`, `%7E` is `~`), other escapes get uppercase
/// hex, and dot-segments are removed, so `/a/%2e%2e/b` routes and forwards as `/b`. An encoded
/// slash (`%2F`) stays encoded: it is data, not a separator.
struct RequestTarget: Equatable {
    enum Refusal: Error, Equatable {
        case notOriginForm
        case invalidCharacter(String)
        case badPercentEncoding
    }

    /// From an absolute-form target, the authority (`host[:port]`); nil for origin-form.
    var authority: String?
    var path: String
    var query: Substring?

    init(_ uri: String) throws(Refusal) {
        let (authority, target) = Self.originForm(uri)
        self.authority = authority
        // Searched as bytes: a String search walks grapheme clusters.
        let mark = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = mark.map { target[..<$0] } ?? target[...]
        query = mark.map { target[target.utf8.index(after: $0)...] }
        for byte in target.utf8 {
            switch byte {
            case UInt8(ascii: "#"): throw .invalidCharacter("#")
            case UInt8(ascii: "\\"): throw .invalidCharacter("\\")
            case 0...0x20, 0x7F...: throw .invalidCharacter(String(format: byte))
            default: break
            }
        }
        guard rawPath.utf8.first == UInt8(ascii: "/") else { throw .notOriginForm }
        if let query { try Self.checkEscapes(query.utf8) }
        path = ForwardedRequest.removeDotSegments(try Self.decodeUnreserved(rawPath))
    }

    /// Splits `http://authority/path?query` into its authority and `/path?query`; an
    /// origin-form target is returned as it is, without authority.
    static func originForm(_ uri: String) -> (authority: String?, target: String) {
        if uri.utf8.first == UInt8(ascii: "/") { return (nil, uri) }
        let lower = uri.prefix(8).lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return (nil, uri) }
        let rest = uri.dropFirst(lower.hasPrefix("http://") ? 7 : 8)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let target = rest[end...]
        return (String(rest[..<end]), target.first == "?" ? "/" + target : target.isEmpty ? "/" : String(target))
    }

    /// The name a request is routed by: lowercase, without a port, without the one trailing dot
    /// a fully qualified name may carry. `host` passed `RequestAuthority.isValid`.
    static func routingHost(_ host: String) -> String {
        // As bytes: a String search walks grapheme clusters, and this runs for every request.
        let utf8 = host.utf8
        let upper = utf8.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
        guard upper || utf8.contains(UInt8(ascii: ":")) || utf8.last == UInt8(ascii: ".") else { return host }
        var name =
            utf8.first == UInt8(ascii: "[")
            ? utf8.firstIndex(of: UInt8(ascii: "]")).map { host[...$0] } ?? host[...]
            : utf8.firstIndex(of: UInt8(ascii: ":")).map { host[..<$0] } ?? host[...]
        if name.utf8.last == UInt8(ascii: ".") { name = name.dropLast() }
        return upper ? name.lowercased() : String(name)
    }

    static func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// The target to send upstream, with `path` in place of the request's path.
    func uri(path forwarded: String) -> String {
        query.map { "\(forwarded)?\($0)" } ?? forwarded
    }

    private static func checkEscapes(_ bytes: Substring.UTF8View) throws(Refusal) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex, bytes.index(after: first) < bytes.endIndex,
                    PercentDecoding.hexValue(bytes[first]) != nil, PercentDecoding.hexValue(bytes[bytes.index(after: first)]) != nil
                else { throw .badPercentEncoding }
            }
            index = bytes.index(after: index)
        }
    }

    private static func decodeUnreserved(_ path: Substring) throws(Refusal) -> String {
        guard path.utf8.contains(UInt8(ascii: "%")) else { return String(path) }
        let bytes = Array(path.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 2 < bytes.count, let high = PercentDecoding.hexValue(bytes[index + 1]), let low = PercentDecoding.hexValue(bytes[index + 2]) else {
                throw .badPercentEncoding
            }
            let decoded = high << 4 | low
            // An encoded NUL ends the path early for an upstream written in C: not what was routed.
            if decoded == 0 { throw .invalidCharacter("%00") }
            if ASCIISet.unreserved.contains(decoded) {
                out.append(decoded)
            } else {
                out.append(contentsOf: [UInt8(ascii: "%"), upperHex[Int(high)], upperHex[Int(low)]])
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let upperHex = Array("0123456789ABCDEF".utf8)

}

extension String {
    fileprivate init(format byte: UInt8) {
        self = "byte 0x" + String(byte, radix: 16)
    }
}
