/// The `host[:port]` of a `Host` header or an absolute-form target, checked as RFC 3986 spells
/// it before the gateway routes on it or passes it on (`X-Forwarded-Host`): a registered name or
/// IPv4 address (unreserved characters, percent-escapes, sub-delimiters) or a bracketed IPv6
/// literal, then an optional port of digits up to 65535. User info (`user@host`) is refused, as
/// RFC 9110 §4.2.4 asks. Empty is valid: a client may send an empty `Host`.
enum RequestAuthority {
    static func isValid(_ authority: String) -> Bool {
        var bytes = authority.utf8[...]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy(isIPLiteralByte) else { return false }
            bytes = bytes[bytes.index(after: close)...]
        } else {
            let end = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            guard bytes[..<end].allSatisfy(isRegisteredNameByte), hasValidEscapes(bytes[..<end]) else { return false }
            bytes = bytes[end...]
        }
        guard let colon = bytes.first else { return true }
        guard colon == UInt8(ascii: ":"), bytes.count <= 6 else { return false }
        let port = bytes.dropFirst()
        guard port.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return false }
        // An empty port is allowed by the grammar (`host:`) and means the default.
        return port.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 65535
    }

    private static func isRegisteredNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default: false
        }
    }

    /// Hex digits, colons and dots: IPv6 with an optional embedded IPv4 address.
    private static func isIPLiteralByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || RequestTarget.hexValue(byte) != nil
    }

    private static func hasValidEscapes(_ name: Substring.UTF8View.SubSequence) -> Bool {
        var index = name.startIndex
        while let percent = name[index...].firstIndex(of: UInt8(ascii: "%")) {
            let digits = name[name.index(after: percent)...].prefix(2)
            guard digits.count == 2, digits.allSatisfy({ RequestTarget.hexValue($0) != nil }) else { return false }
            index = digits.endIndex
        }
        return true
    }
}
