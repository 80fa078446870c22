import Crypto

/// PBKDF2-HMAC-SHA256 with one output block (32 bytes), as RFC 8018 defines it.
public enum PasswordHash {
    static let iterations = 100_000
    /// What a stored hash may use: from OWASP's floor for PBKDF2-HMAC-SHA256 of a decade ago to
    /// about a second per check.
    public static let acceptedIterations = 10_000...1_000_000

    static func derive(password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: Array(password.utf8))
        var block = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = block
        for _ in 1..<iterations {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for index in result.indices { result[index] ^= block[index] }
        }
        return result
    }
}
