/// The `host[:port]` of a `Host` header or an absolute-form target, checked as RFC 3986 spells
/// it before the gateway routes on it or passes it on (`X-Forwarded-Host`): a registered name or
/// IPv4 address (unreserved characters, percent-escapes, sub-delimiters) or a bracketed IPv6
/// literal, then an optional port of digits up to 65535. User info (`user@host`) is refused, as
/// RFC 9110 §4.2.4 asks. Empty is valid: a client may send an empty `Host`.
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
                if bytes[index] == UInt8(ascii: "%") {
                    guard index + 2 < count, RequestTarget.hexValue(bytes[index + 1]) != nil, RequestTarget.hexValue(bytes[index + 2]) != nil
                    else { return false }
                    index += 3
                    continue
                }
                guard registeredName.contains(bytes[index]) else { return false }
                index += 1
            }
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

    /// Unreserved characters and sub-delimiters (percent-escapes are checked apart).
    private static let registeredName = ASCIISet.unreserved.union(ASCIISet("!$&'()*+,;="))
    /// Hex digits, colons and dots: IPv6 with an optional embedded IPv4 address.
    private static let ipLiteral = ASCIISet("0123456789abcdefABCDEF:.")
}
