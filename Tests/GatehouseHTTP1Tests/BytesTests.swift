import Testing

@testable import GatehouseHTTP1

/// The byte classes, for all 256 bytes, against the RFCs' own definitions.
@Suite struct BytesTests {
    @Test func tokenBytesAreTheTcharsOfRFC9110() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(Bytes.isToken(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test func fieldValueBytesAreVisibleASCIISpaceTabAndObsText() {
        for byte in UInt8.min...UInt8.max {
            let expected = byte == 0x09 || byte == 0x20 || (0x21...0x7E).contains(byte) || byte >= 0x80
            #expect(Bytes.isFieldValue(byte) == expected, "byte \(byte)")
        }
    }
}
