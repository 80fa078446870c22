import Crypto
import GatehouseModel

/// One version's document as the history holds it: the canonical JSON its hash was computed
/// over, checked against that hash when it was read. Reading a version this way builds no
/// `ConfigDocument`, which at 10,000 routes is most of the cost.
public struct StoredDocument: Sendable {
    public let version: Int
    public let hash: String
    public let canonicalJSON: [UInt8]

    /// The parsed snapshot, for what needs the entities (diff, rollback).
    public func snapshot() throws -> Snapshot {
        do {
            return try Snapshot(version: version, canonicalJSON: canonicalJSON, hash: hash)
        } catch {
            throw StoreError.damaged("version \(version)'s document cannot be read: \(error.description)")
        }
    }

    /// `prettyJSON` as answers may show it: a document holding certificate keys (sealed) is
    /// rebuilt with the keys as references only, and, `hidingCredentialHashes`, one holding
    /// credentials without their hashes.
    public func publicJSON(hidingCredentialHashes: Bool = false) throws -> [UInt8] {
        let rebuilt =
            canonicalJSON.contains(Array(#""key_sealed""#.utf8))
            || (hidingCredentialHashes && (canonicalJSON.contains(Array(#""key_hash""#.utf8)) || canonicalJSON.contains(Array(#""password_hash""#.utf8))))
        guard rebuilt else { return prettyJSON }
        return try snapshot().document.publicJSON(hidingCredentialHashes: hidingCredentialHashes).prettyBytes
    }

    /// The document as the admin API prints JSON: exactly the bytes `JSONValue.prettyBytes` gives
    /// for it (two-space indent, `": "`, a final newline), made in one pass over the canonical
    /// bytes. Canonical JSON has no whitespace and writes strings and numbers as the pretty form
    /// does, so only the structure is re-indented.
    public var prettyJSON: [UInt8] {
        let bytes = canonicalJSON
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3 / 2)
        var level = 0
        var index = 0
        func newline() {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                out.append(contentsOf: bytes[start..<min(index + 1, bytes.count)])
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                out.append(byte)
                if index + 1 < bytes.count, bytes[index + 1] == close {
                    out.append(close)
                    index += 1
                } else {
                    level += 1
                    newline()
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                level -= 1
                newline()
                out.append(byte)
            case UInt8(ascii: ","):
                out.append(byte)
                newline()
            case UInt8(ascii: ":"):
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
            default:
                out.append(byte)
            }
            index += 1
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    static func hash(of bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
