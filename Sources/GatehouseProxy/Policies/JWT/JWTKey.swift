import Crypto
import GatehouseModel
import _CryptoExtras

/// One key a `jwt` policy verifies with, built from a JWK (or a PEM public key with its `alg`)
/// and bound to the one algorithm it is for: a token naming another algorithm is never checked against it, whatever the key's type
/// would allow (so an RSA public key can never be taken for an HMAC secret).
struct JWTKey: Sendable {
    let kid: String?
    let algorithm: JWTAlgorithm
    /// The JWK's canonical JSON: two sets hold the same keys when these are equal.
    let fingerprint: [UInt8]
    private let verifier: Verifier

    private enum Verifier: Sendable {
        case rsa(_RSA.Signing.PublicKey, _RSA.Signing.Padding)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case hmac(SymmetricKey)
    }

    struct Unusable: Error, CustomStringConvertible {
        let description: String
    }

    /// - Parameter accepted: the policy's algorithms, for a JWK that names none.
    init(jwk: [String: JSONValue], accepted: [String]) throws(Unusable) {
        guard let name = JWTConfigRules.algorithm(ofJWK: jwk, accepted: accepted), let algorithm = JWTAlgorithm(rawValue: name) else {
            throw Unusable(description: "the key is for no algorithm the policy accepts")
        }
        func bytes(_ member: String) throws(Unusable) -> [UInt8] {
            guard let text = jwk[member]?.stringValue, let decoded = Base64URL.decode(text[...].utf8), !decoded.isEmpty else {
                throw Unusable(description: "\(member) is not base64url")
            }
            return decoded
        }
        let crv = jwk["crv"]?.stringValue
        do {
            if let pem = jwk["pem"]?.stringValue {
                verifier = try Self.verifier(pem: pem, algorithm)
            } else {
                verifier = try Self.verifier(jwk: jwk, algorithm, crv: crv, bytes: bytes)
            }
        } catch let error as Unusable {
            throw error
        } catch {
            throw Unusable(description: "the key cannot be built: \(error)")
        }
        kid = jwk["kid"]?.stringValue
        self.algorithm = algorithm
        fingerprint = JSONValue.object(jwk).canonicalBytes
    }

    /// A PEM public key (SubjectPublicKeyInfo; PKCS #1 for RSA too), read as the algorithm's.
    private static func verifier(pem: String, _ algorithm: JWTAlgorithm) throws -> Verifier {
        switch algorithm {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512:
            // The PEM reader refuses a modulus under 2048 bits.
            return .rsa(try _RSA.Signing.PublicKey(pemRepresentation: pem), algorithm.rawValue.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5)
        case .es256: return .p256(try P256.Signing.PublicKey(pemRepresentation: pem))
        case .es384: return .p384(try P384.Signing.PublicKey(pemRepresentation: pem))
        case .es512: return .p521(try P521.Signing.PublicKey(pemRepresentation: pem))
        case .edDSA: return .ed25519(try Curve25519.Signing.PublicKey(pemRepresentation: pem))
        case .hs256, .hs384, .hs512: throw Unusable(description: "an HMAC secret is not a PEM key")
        }
    }

    /// A JWK's public key (or HMAC secret), read as the algorithm's.
    private static func verifier(
        jwk: [String: JSONValue], _ algorithm: JWTAlgorithm, crv: String?, bytes: (String) throws(Unusable) -> [UInt8]
    ) throws -> Verifier {
        switch algorithm {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512:
            let n = try bytes("n")
            guard n.drop(while: { $0 == 0 }).count * 8 >= 2048 else { throw Unusable(description: "an RSA key needs a modulus of at least 2048 bits") }
            return .rsa(try _RSA.Signing.PublicKey(n: n, e: try bytes("e")), algorithm.rawValue.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5)
        case .es256:
            guard crv == "P-256" else { throw Unusable(description: "ES256 needs a P-256 key") }
            return .p256(try P256.Signing.PublicKey(rawRepresentation: try bytes("x") + bytes("y")))
        case .es384:
            guard crv == "P-384" else { throw Unusable(description: "ES384 needs a P-384 key") }
            return .p384(try P384.Signing.PublicKey(rawRepresentation: try bytes("x") + bytes("y")))
        case .es512:
            guard crv == "P-521" else { throw Unusable(description: "ES512 needs a P-521 key") }
            return .p521(try P521.Signing.PublicKey(rawRepresentation: try bytes("x") + bytes("y")))
        case .edDSA:
            guard crv == "Ed25519" else { throw Unusable(description: "EdDSA is verified with Ed25519 keys only") }
            return .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: try bytes("x")))
        case .hs256, .hs384, .hs512:
            let secret = try bytes("k")
            // RFC 7518 §3.2: a key at least as long as the hash.
            let least = algorithm.hash == .sha256 ? 32 : algorithm.hash == .sha384 ? 48 : 64
            guard secret.count >= least else { throw Unusable(description: "\(algorithm.rawValue) needs a key of at least \(least) bytes") }
            return .hmac(SymmetricKey(data: secret))
        }
    }

    /// Whether `signature` signs `input` (the token's `header.payload`) with this key.
    func verifies(_ signature: [UInt8], signing data: [UInt8]) -> Bool {
        switch verifier {
        case .rsa(let key, let padding):
            let signature = _RSA.Signing.RSASignature(rawRepresentation: signature)
            switch algorithm.hash {
            case .sha256: return key.isValidSignature(signature, for: SHA256.hash(data: data), padding: padding)
            case .sha384: return key.isValidSignature(signature, for: SHA384.hash(data: data), padding: padding)
            case .sha512: return key.isValidSignature(signature, for: SHA512.hash(data: data), padding: padding)
            }
        case .p256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: SHA256.hash(data: data))
        case .p384(let key):
            guard let signature = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: SHA384.hash(data: data))
        case .p521(let key):
            guard let signature = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: SHA512.hash(data: data))
        case .ed25519(let key):
            return key.isValidSignature(signature, for: data)
        case .hmac(let key):
            switch algorithm.hash {
            case .sha256: return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: data, using: key)
            case .sha384: return HMAC<SHA384>.isValidAuthenticationCode(signature, authenticating: data, using: key)
            case .sha512: return HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: data, using: key)
            }
        }
    }
}
