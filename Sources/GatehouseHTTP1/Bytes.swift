/// The byte classes of RFC 9110/9112, as tables: each test is one load.
enum Bytes {
    /// tchar: `!#$%&'*+-.^_`|~`, digits and letters.
    private static let token: [Bool] = (0..<256).map { byte in
        let scalar = Unicode.Scalar(UInt8(byte))
        return byte < 128 && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar))
    }
    /// field-content: visible ASCII, space, tab and obs-text (0x80–0xFF); no other control byte.
    private static let fieldValue: [Bool] = (0..<256).map { byte in
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    static func isToken(_ byte: UInt8) -> Bool { token.withUnsafeBufferPointer { $0[Int(byte)] } }
    static func isFieldValue(_ byte: UInt8) -> Bool { fieldValue.withUnsafeBufferPointer { $0[Int(byte)] } }
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Whether `bytes` are `lowercased`, ignoring ASCII case.
    static func equal(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
        let wanted = lowercased.utf8Start
        for offset in 0..<bytes.count where lowered(bytes[offset]) != wanted[offset] { return false }
        return true
    }
}
