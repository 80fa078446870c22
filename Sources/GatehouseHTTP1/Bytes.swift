/// The byte classes of RFC 9110/9112, as bit sets in constants: each test is a shift and a mask,
/// with no lazily made table to reach first (`swift_once` on every byte, as a profile showed).
enum Bytes {
    /// tchar: `!#$%&'*+-.^_`|~`, digits and letters; bit n of the first word is byte n, of the
    /// second byte 64 + n (`BytesTests` checks them against the RFC's list).
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case 0..<64: (0x03ff_6cfa_0000_0000 as UInt64) >> byte & 1 == 1
        case 64..<128: (0x57ff_ffff_c7ff_fffe as UInt64) >> (byte &- 64) & 1 == 1
        default: false
        }
    }

    /// field-content: visible ASCII, space, tab and obs-text (0x80–0xFF); no other control byte.
    static func isFieldValue(_ byte: UInt8) -> Bool { byte >= 0x20 ? byte != 0x7F : byte == 0x09 }
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
