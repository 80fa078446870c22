import Testing

@testable import GatehouseProxy

/// Field names are matched ignoring ASCII case, over their bytes.
@Suite struct FieldNameSetTests {
    @Test func membersMatchInAnyCaseAndNothingElseDoes() {
        let long = String(repeating: "x", count: 70)
        let set = FieldNameSet(["Transfer-Encoding", "te", long])
        for name in ["transfer-encoding", "TRANSFER-ENCODING", "Transfer-encoding", "te", "TE", long.uppercased()] {
            #expect(set.contains(name), "\(name)")
        }
        // Same length, other bytes; a prefix; a longer name; a long name of another length; and a
        // byte that a plain `| 0x20` would fold onto `-` (only letters are folded).
        for name in ["transfer-encodinG2", "transfer-encodinx", "t", "tee", String(repeating: "x", count: 71), "transfer\rencoding", ""] {
            #expect(!set.contains(name), "\(name.debugDescription)")
        }
        #expect((set + ["Via"]).contains("via"))
        #expect(set.contains("te-x".utf8.dropLast(2)))
    }
}
