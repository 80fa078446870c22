/// The request target's bytes and forms (RFC 9112 §3.2): a path (origin-form), an `http` or
/// `https` URI (absolute-form) or `*` (asterisk-form); never a fragment.
enum Targets {
    static func check(_ byte: UInt8, at index: Int) throws(RequestParseError) {
        if byte > 0x20 && byte < 0x7F {
            if byte == UInt8(ascii: "#") { throw RequestParseError(.targetFragment, at: index) }
            return
        }
        throw RequestParseError(byte >= 0x80 ? .nonASCIITarget : .invalidTarget, at: index)
    }

    private static let schemes: [[UInt8]] = [Array("http://".utf8), Array("https://".utf8)]
    /// What an absolute-form authority may hold: a registered name, IPv4 or IPv6 literal and a
    /// port (no userinfo).
    private static let authority: [Bool] = (0..<256).map { byte in
        byte < 128 && "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:[]".utf8.contains(UInt8(byte))
    }

    /// Checks the target so far (`complete`: all of it) has one of the forms.
    static func checkForm(_ target: UnsafeRawBufferPointer, complete: Bool, at start: Int) throws(RequestParseError) {
        let first = target[0]
        if first == UInt8(ascii: "/") { return }
        if first == UInt8(ascii: "*") {
            guard target.count == 1 else { throw RequestParseError(.targetForm, at: start) }
            return
        }
        // Absolute-form: a scheme, then an authority up to the path or query.
        let matching = schemes.first { scheme in
            zip(scheme, target).allSatisfy { Bytes.lowered($1) == $0 }
        }
        guard let scheme = matching else { throw RequestParseError(.targetForm, at: start) }
        if target.count <= scheme.count {
            if complete { throw RequestParseError(.targetForm, at: start) }
            return
        }
        for offset in scheme.count..<target.count {
            let byte = target[offset]
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") { return }
            guard authority[Int(byte)] else { throw RequestParseError(.targetForm, at: start + offset) }
        }
    }
}
