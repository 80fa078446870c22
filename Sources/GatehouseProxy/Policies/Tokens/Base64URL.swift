/// Base64url without padding (RFC 7515 §2), strictly: any other character, padding, a length no
/// encoding has, or bits set past the last byte make the text invalid, so one token has one
/// spelling and a tampered one is refused before any key is tried.
enum Base64URL {
    static func decode(_ text: Substring.UTF8View) -> [UInt8]? {
        decode(text, standard: false)
    }

    /// Base64 (RFC 4648 §4) with its padding, as HTTP Basic credentials carry it: `+` and `/`,
    /// and `=` to a multiple of four characters; as strict otherwise.
    static func decodeStandard(_ text: Substring.UTF8View) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var body = text[...]
        for _ in 0..<2 where body.last == UInt8(ascii: "=") { body = body.dropLast() }
        return decode(Substring(body).utf8, standard: true)
    }

    private static func decode(_ text: Substring.UTF8View, standard: Bool) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text {
            guard let value = Self.value(byte, standard: standard) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // What is left is padding bits, which the encoder sets to zero.
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return output
    }

    private static func value(_ byte: UInt8, standard: Bool) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-") where !standard, UInt8(ascii: "+") where standard: 62
        case UInt8(ascii: "_") where !standard, UInt8(ascii: "/") where standard: 63
        default: nil
        }
    }
}
