import Crypto
import _CryptoExtras

/// A `basic-auth` credential's password as stored: `pbkdf2-sha256$ITERATIONS$SALT$HASH` (hex),
/// PBKDF2-HMAC-SHA256 with one output block. Checking a password costs the iterations (100,000
/// by default: tens of milliseconds), so it never runs on an event loop (`PasswordChecker`).
struct StoredPassword: Sendable, Equatable {
    let iterations: Int
    let salt: [UInt8]
    let hash: [UInt8]
    /// The stored text: a cached success holds only while the credential still has it.
    let text: String

    init?(_ text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let iterations = Int(parts[1]), (1...10_000_000).contains(iterations),
            let salt = Hex.decode(parts[2]), let hash = Hex.decode(parts[3]), hash.count == 32
        else { return nil }
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
        self.text = text
    }

    /// Whether `password` is the one stored. Slow on purpose; the comparison takes the same time
    /// wherever the bytes differ.
    func matches(_ password: Substring) -> Bool {
        guard
            let derived = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        else { return false }
        return derived.withUnsafeBytes { bytes in
            var difference: UInt8 = 0
            for (a, b) in zip(bytes, hash) { difference |= a ^ b }
            return difference == 0 && bytes.count == hash.count
        }
    }

    /// Stands in for a username nobody has: checked all the same, so an unknown name takes as
    /// long to refuse as a wrong password (no name can be told to exist by timing).
    static let decoy = StoredPassword("pbkdf2-sha256$100000$" + String(repeating: "5a", count: 16) + "$" + String(repeating: "00", count: 32))!
}
