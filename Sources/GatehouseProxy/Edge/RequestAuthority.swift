/// The `host[:port]` of a `Host` header or an absolute-form target, checked before the gateway
/// routes on it or passes it on (`X-Forwarded-Host`): a host name or IPv4 address (letters,
/// digits, `-`, `.`, `_`) or a bracketed IPv6 literal, then an optional port of digits up to 65535. User info (`user@host`) is refused, as
/// RFC 9110 §4.2.4 asks. Empty is valid: a client may send an empty `Host`.
///
/// Stricter than RFC 3986's registered names, whose sub-delimiters and escapes let a second
/// spelling of one name route apart from the first (a route for `api.example.com` passed by, a
/// catch-all reached, and an upstream that reads `api.example.com,other` or
/// `api.example.com;x` as its own name): percent-escapes (`api%2Eexample.com`), `!$&'()*+,;=~`
/// and empty labels (`.api.example.com`, `api..example.com`) are refused, as no route host can
/// hold them. One trailing dot is
/// valid, and `routingHost` drops it (`api.example.com.` is the same name, RFC 1034 §3.1).
enum RequestAuthority {
    static func isValid(_ authority: String) -> Bool {
        // Checked for every request: over the bytes in place.
        authority.utf8.withContiguousStorageIfAvailable(isValid) ?? Array(authority.utf8).withUnsafeBufferPointer(isValid)
    }

    private static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        if count > 0, bytes[0] == UInt8(ascii: "[") {
            index = 1
            while index < count, bytes[index] != UInt8(ascii: "]") {
                guard ipLiteral.contains(bytes[index]) else { return false }
                index += 1
            }
            guard index < count, index > 1 else { return false }
            index += 1
        } else {
            while index < count, bytes[index] != UInt8(ascii: ":") {
                let byte = bytes[index]
                guard registeredName.contains(byte) else { return false }
                if byte == UInt8(ascii: "."), index == 0 || bytes[index - 1] == UInt8(ascii: ".") { return false }
                index += 1
            }
            guard isCanonicalIfNumeric(UnsafeBufferPointer(rebasing: bytes[0..<index])) else { return false }
        }
        if index == count { return true }
        guard bytes[index] == UInt8(ascii: ":"), count - index <= 6 else { return false }
        // An empty port is allowed by the grammar (`host:`) and means the default.
        var port = 0
        for byte in bytes[(index + 1)...] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            port = port * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return port <= 65535
    }

    /// A name whose last label is a number (`10.1`, `0x0a.0.0.1`, `167772161`) is an IPv4 address
    /// to URL parsers and `inet_aton`: only its one dotted-decimal spelling is let through, so no
    /// second spelling of an address routes apart from it (WHATWG URL's "ends in a number").
    private static func isCanonicalIfNumeric(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = name.count
        if end > 0, name[end - 1] == UInt8(ascii: ".") { end -= 1 }
        var start = end
        while start > 0, name[start - 1] != UInt8(ascii: ".") { start -= 1 }
        let last = UnsafeBufferPointer(rebasing: name[start..<end])
        let hex = last.count >= 2 && last[0] == UInt8(ascii: "0") && (last[1] | 0x20) == UInt8(ascii: "x")
        guard hex || (!last.isEmpty && last.allSatisfy(Self.digits.contains)) else { return true }
        var labels = 0
        var value = 0
        var length = 0
        for position in 0...end {
            if position == end || name[position] == UInt8(ascii: ".") {
                labels += 1
                guard length > 0, value <= 255, labels <= 4 else { return false }
                value = 0
                length = 0
                continue
            }
            let byte = name[position]
            guard Self.digits.contains(byte), !(length == 1 && value == 0) else { return false }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            length += 1
            if length > 3 { return false }
        }
        return labels == 4
    }

    private static let digits = ASCIISet("0123456789")
    /// What a DNS name or an IPv4 address is made of, and `_`, which names of services carry.
    private static let registeredName = ASCIISet("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
    /// Hex digits, colons and dots: IPv6 with an optional embedded IPv4 address.
    private static let ipLiteral = ASCIISet("0123456789abcdefABCDEF:.")
}
