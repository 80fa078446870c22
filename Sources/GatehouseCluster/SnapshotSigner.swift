import Crypto

/// Signs and checks what makes a snapshot current on a data plane: its epoch, version and hash
/// (the hash covers the document). The key is derived from the cluster token with HKDF-SHA256, so
/// only a holder of the token can make a snapshot a data plane serves: a forged stream, or a cache
/// file edited on disk, is refused. Immutable, thread-safe.
public struct SnapshotSigner: Sendable {
    private let key: SymmetricKey

    /// Fixed by protocol version 1: both sides derive the same key from the same token.
    static let info = Array("gatehouse cluster snapshot signature v1".utf8)

    public init(token: String) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(token.utf8)), salt: [UInt8](), info: Self.info, outputByteCount: 32)
    }

    /// The signature, as 64 lowercase hex digits.
    public func signature(epoch: String, version: Int, hash: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Self.message(epoch: epoch, version: version, hash: hash), using: key)
        return code.map { byte in String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16) }.joined()
    }

    /// Whether `signature` was made with this token for exactly these values; compared in constant time.
    public func isValid(_ signature: String, epoch: String, version: Int, hash: String) -> Bool {
        guard let bytes = Self.bytes(hex: signature), bytes.count == 32 else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Self.message(epoch: epoch, version: version, hash: hash), using: key)
    }

    /// The signature of a delta: the epoch, the version and hash it applies to, and the version
    /// and hash it makes, so a delta is only ever applied to the document it was made from.
    public func deltaSignature(epoch: String, baseVersion: Int, baseHash: String, version: Int, hash: String) -> String {
        let message = Self.deltaMessage(epoch: epoch, baseVersion: baseVersion, baseHash: baseHash, version: version, hash: hash)
        return HMAC<SHA256>.authenticationCode(for: message, using: key).map { byte in String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16) }
            .joined()
    }

    public func isValidDelta(_ signature: String, epoch: String, baseVersion: Int, baseHash: String, version: Int, hash: String) -> Bool {
        guard let bytes = Self.bytes(hex: signature), bytes.count == 32 else { return false }
        let message = Self.deltaMessage(epoch: epoch, baseVersion: baseVersion, baseHash: baseHash, version: version, hash: hash)
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: message, using: key)
    }

    /// Its first line differs from a snapshot's, so neither signature stands for the other.
    private static func deltaMessage(epoch: String, baseVersion: Int, baseHash: String, version: Int, hash: String) -> [UInt8] {
        Array("gatehouse-delta\n\(epoch)\n\(baseVersion)\n\(baseHash)\n\(version)\n\(hash)".utf8)
    }

    /// Each value on its own line: none of them can hold a line break (the hello and frame checks
    /// see to it), so two different triples never make the same message.
    private static func message(epoch: String, version: Int, hash: String) -> [UInt8] {
        Array("gatehouse-snapshot\n\(epoch)\n\(version)\n\(hash)".utf8)
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
