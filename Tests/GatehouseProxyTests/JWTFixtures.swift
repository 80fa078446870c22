import Crypto
import Foundation
import GatehouseModel
import _CryptoExtras

@testable import GatehouseProxy

/// Keys and tokens for the `jwt` tests: an RSA key (2048 bits), a P-256 key and an HMAC secret,
/// tokens signed with them as an IdP would, and the policy built from a config as a data plane
/// builds it.
enum JWTFixtures {
    typealias RSAKey = _RSA.Signing.PrivateKey
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let ec = P256.Signing.PrivateKey()
    static let secret = Array("an HMAC secret of more than 32 bytes, for HS256".utf8)
    static let now: Int64 = 1_800_000_000

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func rsaJWK(_ key: _RSA.Signing.PrivateKey = rsa, kid: String = "rsa-1", alg: String? = "RS256") -> JSONValue {
        let primitives = try! key.publicKey.getKeyPrimitives()
        var jwk: [String: JSONValue] = [
            "kty": "RSA", "kid": .string(kid), "n": .string(base64URL(primitives.modulus)), "e": .string(base64URL(primitives.publicExponent)),
        ]
        if let alg { jwk["alg"] = .string(alg) }
        return .object(jwk)
    }

    static func ecJWK(kid: String = "ec-1") -> JSONValue {
        let raw = Array(ec.publicKey.rawRepresentation)
        return ["kty": "EC", "crv": "P-256", "kid": .string(kid), "x": .string(base64URL(raw[0..<32])), "y": .string(base64URL(raw[32...]))]
    }

    static let hmacJWK: JSONValue = ["kty": "oct", "kid": "hs-1", "alg": "HS256", "k": .string(base64URL(secret))]

    /// A compact JWS of the given header and payload texts, signed by `sign` over `header.payload`.
    static func token(header: String, payload: String, sign: ([UInt8]) -> [UInt8]) -> String {
        let input = base64URL(Array(header.utf8)) + "." + base64URL(Array(payload.utf8))
        return input + "." + base64URL(sign(Array(input.utf8)))
    }

    static func rs256(_ data: [UInt8], key: _RSA.Signing.PrivateKey = rsa) -> [UInt8] {
        Array(try! key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation)
    }

    static func es256(_ data: [UInt8]) -> [UInt8] { Array(try! ec.signature(for: SHA256.hash(data: data)).rawRepresentation) }

    static func hs256(_ data: [UInt8], secret: [UInt8] = secret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: secret)))
    }

    /// Claims valid at `now`, with the given changes (nil removes a claim).
    static func claims(_ changes: [String: JSONValue?] = [:]) -> String {
        var claims: [String: JSONValue] = [
            "iss": "https://idp.test", "aud": "recipes", "sub": "user-42", "exp": .int(Int(now) + 300), "scope": "recipes:read profile",
        ]
        for (name, value) in changes { claims[name] = value }
        return String(decoding: JSONValue.object(claims).canonicalBytes, as: UTF8.self)
    }

    static func rsaToken(_ changes: [String: JSONValue?] = [:], kid: String = "rsa-1") -> String {
        token(header: #"{"alg":"RS256","kid":"\#(kid)","typ":"at+jwt"}"#, payload: claims(changes)) { rs256($0) }
    }

    static let baseConfig: JSONValue = [
        "algorithms": ["RS256", "ES256"], "keys": [rsaJWK(), ecJWK()], "issuers": ["https://idp.test"], "audiences": ["recipes"],
    ]

    /// The policy as a data plane builds it from `config` (normalized by the model's rules first).
    static func policy(
        _ config: JSONValue = baseConfig, consumers: [Consumer] = [], metrics: PolicyMetrics = PolicyMetrics(), at seconds: Int64 = now
    ) throws -> JWTPolicy {
        let policy = try Policy.read(["name": "jwt", "type": "jwt", "config": config], id: "00000000-0000-4000-8000-0000000000f1")
        return try JWTPolicy(
            name: "jwt", config: policy.config, consumers: ConsumerDirectory(consumers), cache: TokenCache(capacity: 100), metrics: metrics,
            now: { seconds * 1000 })
    }
}
