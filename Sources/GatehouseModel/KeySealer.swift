import Crypto
import Foundation

/// Seals certificate private keys with a key derived from `GATEHOUSE_SECRET_KEY`, so SQLite,
/// snapshots and snapshot caches hold them only encrypted (AES-256-GCM). The sealed form names
/// the secret that sealed it (a short id derived from it, not the secret), so a data plane given
/// another secret says so instead of failing to decrypt.
public struct KeySealer: Sendable {
    public static let environmentVariable = "GATEHOUSE_SECRET_KEY"
    public static let minimumSecretLength = 32
    static let prefix = "gh1"

    private let key: SymmetricKey
    /// Hex of 8 bytes derived from the secret; part of every sealed value.
    public let keyID: String

    public init(secret: String) throws(ConfigError) {
        guard secret.utf8.count >= Self.minimumSecretLength else {
            throw .invalid("must be at least \(Self.minimumSecretLength) characters (for example: openssl rand -hex 32)", field: Self.environmentVariable)
        }
        let material = SymmetricKey(data: Array(secret.utf8))
        let salt = Array("gatehouse".utf8)
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, salt: salt, info: Array("certificate keys v1".utf8), outputByteCount: 32)
        let id = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, salt: salt, info: Array("key id v1".utf8), outputByteCount: 8)
        keyID = id.withUnsafeBytes { Credential.hex(Array($0)) }
    }

    /// `gh1.<key id>.<base64 of nonce, ciphertext and tag>`.
    public func seal(_ clear: String) -> String {
        // Sealing with a fresh random nonce cannot fail.
        let box = try! AES.GCM.seal(Array(clear.utf8), using: key, authenticating: Array(keyID.utf8))
        return "\(Self.prefix).\(keyID).\(box.combined!.base64EncodedString())"
    }

    public func open(_ sealed: String) throws(ConfigError) -> String {
        let parts = sealed.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.prefix, let data = Data(base64Encoded: String(parts[2])) else {
            throw .invalid("is not a sealed key (gh1.ID.DATA)", field: "key_sealed")
        }
        guard parts[1] == keyID else {
            throw .invalid(
                "was sealed with another \(Self.environmentVariable) (key id \(parts[1]), this one is \(keyID))", field: "key_sealed")
        }
        guard let box = try? AES.GCM.SealedBox(combined: data),
            let clear = try? AES.GCM.open(box, using: key, authenticating: Array(keyID.utf8)),
            let text = String(bytes: clear, encoding: .utf8)
        else { throw .invalid("cannot be opened: it was altered", field: "key_sealed") }
        return text
    }

    /// The sealer from the environment, or nil when the variable is unset.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> KeySealer? {
        guard let secret = environment[environmentVariable], !secret.isEmpty else { return nil }
        return try KeySealer(secret: secret)
    }
}
