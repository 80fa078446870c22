import Atomics
import Crypto
import Foundation
import GatehouseHTTP1
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing
import _CryptoExtras

@testable import GatehouseProxy

/// The `jwt` policy's verification: Project Wycheproof's JWS and ES256 vectors, then the attacks
/// gateways have fallen to, then the claim rules and the verified-token cache.
@Suite struct JWTTests {
    typealias F = JWTFixtures

    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/jwt-vectors")

    static func load(_ name: String) throws -> JSONValue {
        try JSONValue.parse(Array(try Data(contentsOf: vectors.appendingPathComponent(name))))
    }

    /// The eight of 401 cases where Gatehouse answers otherwise than the file says, and why:
    /// - 346, 347, 350, 351 (valid there, refused here): the JWK names another algorithm than
    ///   the token (a PS256 key and a PS384 token; a key for "ES521", a name RFC 7518 does not
    ///   have, and an ES512 token). A key is used with the one algorithm it is for.
    /// - 372, 373 (valid there, refused here): a `?` inserted into the header or payload. A token
    ///   has one spelling; the signature covers the text as sent.
    /// - 367, 370 (invalid there, valid here): byte for byte the token of case 357, which the
    ///   file says is valid; their names (invalid padding) say what they were meant to hold.
    static let disagreements: [Int: Bool] = [346: false, 347: false, 350: false, 351: false, 372: false, 373: false, 367: true, 370: true]

    func headerAlgorithm(_ jws: String) -> String? {
        guard let part = jws.split(separator: ".", omittingEmptySubsequences: false).first, let bytes = Base64URL.decode(part.utf8),
            case .object(let header)? = try? JSONValue.parse(bytes)
        else { return nil }
        return header["alg"]?.stringValue
    }

    /// Verifies as a policy would that accepts the key's algorithm (or, for a key without one,
    /// the token's) with this one key.
    func verifies(_ jws: String, key: JSONValue) -> Bool {
        let alg = key["alg"]?.stringValue ?? headerAlgorithm(jws) ?? "RS256"
        guard let policy = try? Policy.read(["name": "p", "type": "jwt", "config": ["algorithms": [.string(alg)], "keys": [key]]], id: "x"),
            let keys = try? JWTPolicy.keys(policy.config)
        else { return false }
        let accepted = Set(keys.map(\.algorithm))
        return (try? SignedToken.verify(jws[...], keys: keys, accepted: accepted)) != nil
    }

    @Test func everyWycheproofJWSCaseVerifiesAsItsResultSaysBarEightExplained() throws {
        let file = try Self.load("json_web_signature_test.json")
        var checked = 0
        for group in file["testGroups"]?.arrayValue ?? [] {
            // The verifier's key: the public one, or for HMAC the secret.
            var key = try #require(group["public"] ?? group["private"])
            if case .object(var fields) = key, group["public"] == nil, fields["kty"] != "oct" {
                for member in ["d", "p", "q", "dp", "dq", "qi"] { fields[member] = nil }
                key = .object(fields)
            }
            for test in group["tests"]?.arrayValue ?? [] {
                let id = try #require(test["tcId"]?.intValue)
                let jws = try #require(test["jws"]?.stringValue)
                let expected = Self.disagreements[id] ?? (test["result"] == "valid")
                #expect(verifies(jws, key: key) == expected, "tcId \(id): \(test["comment"]?.stringValue ?? "") \(group["comment"]?.stringValue ?? "")")
                checked += 1
            }
        }
        #expect(checked == 401)
    }

    @Test func everyWycheproofES256SignatureVerifiesAsItsResultSays() throws {
        let file = try Self.load("ecdsa_secp256r1_sha256_p1363_test.json")
        var checked = 0
        for group in file["testGroups"]?.arrayValue ?? [] {
            // The key as a JWK carries it: x and y of the uncompressed point.
            let point = hexBytes(try #require(group["publicKey"]?["uncompressed"]?.stringValue))
            let jwk: [String: JSONValue] = [
                "kty": "EC", "crv": "P-256", "x": .string(F.base64URL(point[1..<33])), "y": .string(F.base64URL(point[33..<65])),
            ]
            let key = try? JWTKey(jwk: jwk, accepted: ["ES256"])
            for test in group["tests"]?.arrayValue ?? [] {
                let message = hexBytes(try #require(test["msg"]?.stringValue))
                let signature = hexBytes(try #require(test["sig"]?.stringValue))
                let verified = key?.verifies(signature, signing: message) ?? false
                #expect(verified == (test["result"] == "valid"), "tcId \(test["tcId"]?.intValue ?? 0)")
                checked += 1
            }
        }
        #expect(checked == 262)
    }

    func refusal(_ token: String, _ policy: JWTPolicy) -> TokenRefusal? {
        let headers: RequestFields = ["authorization": "Bearer " + token]
        switch policy.authenticate(headers: headers, query: nil) {
        case .verified: return nil
        case .missing: return .missing
        case .refused(let why): return why
        }
    }

    @Test func theBearerSchemeIsReadInAnyCaseAndNothingElseIsATokensPlace() {
        #expect(TokenLocation.bearerToken("Bearer abc") == "abc")
        #expect(TokenLocation.bearerToken("bEaReR   abc  ") == "abc")
        #expect(TokenLocation.bearerToken("Bearer ") == nil)
        #expect(TokenLocation.bearerToken("Bearerabc") == nil)
        #expect(TokenLocation.bearerToken("Basic abc") == nil)
        #expect(TokenLocation.bearerToken("Bear") == nil)
    }

    @Test func aValidTokenPassesWithItsClaims() throws {
        let policy = try F.policy()
        let headers: RequestFields = ["authorization": "bearer " + F.rsaToken()]
        guard case .verified(let claims, let consumer) = policy.authenticate(headers: headers, query: nil) else {
            Issue.record("refused")
            return
        }
        #expect(claims.subject == "user-42")
        #expect(claims.scopes == "recipes:read profile")
        #expect(consumer == nil)
        let ec = F.token(header: #"{"alg":"ES256","kid":"ec-1"}"#, payload: F.claims()) { F.es256($0) }
        #expect(refusal(ec, policy) == nil)
    }

    @Test(arguments: ["none", "None", "NONE", "nOnE"])
    func algNoneInAnySpellingIsRefused(_ spelling: String) throws {
        let policy = try F.policy()
        let unsigned = F.base64URL(Array(#"{"alg":"\#(spelling)","kid":"rsa-1"}"#.utf8)) + "." + F.base64URL(Array(F.claims().utf8))
        #expect(refusal(unsigned + ".", policy) == .malformed)
        #expect(refusal(unsigned + "." + F.base64URL([1, 2, 3]), policy) == .algorithmNotAccepted)
        // And a policy cannot be told to accept it.
        #expect(throws: ConfigError.self) { try Policy.read(["name": "p", "type": "jwt", "config": ["algorithms": [.string(spelling)], "keys": [F.rsaJWK()]]], id: "x") }
    }

    @Test func hs256SignedWithTheRSAPublicKeyIsRefused() throws {
        let publicKey = Array(F.rsa.publicKey.pemRepresentation.utf8)
        let forged = F.token(header: #"{"alg":"HS256","kid":"rsa-1"}"#, payload: F.claims()) { F.hs256($0, secret: publicKey) }
        #expect(refusal(forged, try F.policy()) == .algorithmNotAccepted)
        // Even where the policy accepts HS256: the RSA key is for RS256 only.
        let both = try F.policy(["algorithms": ["RS256", "HS256"], "keys": [F.rsaJWK(), F.hmacJWK]])
        #expect(refusal(forged, both) == .unknownKey)
        let noKid = F.token(header: #"{"alg":"HS256"}"#, payload: F.claims()) { F.hs256($0, secret: publicKey) }
        #expect(refusal(noKid, both) == .badSignature)
    }

    @Test func keysTheTokenBringsAreNeverUsedAndNeverFetched() throws {
        let attacker = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let jwk = String(decoding: F.rsaJWK(attacker, kid: "evil").canonicalBytes, as: UTF8.self)
        let policy = try F.policy()
        for header in [
            #"{"alg":"RS256","jwk":\#(jwk)}"#, #"{"alg":"RS256","kid":"evil","jwk":\#(jwk)}"#,
            #"{"alg":"RS256","jku":"http://127.0.0.1:9/jwks.json"}"#, #"{"alg":"RS256","x5u":"http://127.0.0.1:9/cert.pem"}"#,
        ] {
            let token = F.token(header: header, payload: F.claims()) { F.rs256($0, key: attacker) }
            #expect([.badSignature, .unknownKey].contains(refusal(token, policy)), "\(header)")
        }
    }

    @Test func odditiesOfKidAndSignatureAreRefused() throws {
        let policy = try F.policy()
        for kid in ["../../../../etc/passwd", "' OR 1=1 --", "unknown", "rsa-1\\u0000"] {
            #expect(refusal(F.rsaToken(kid: kid), policy) == .unknownKey, "\(kid)")
        }
        // A raw control character is not JSON; a 10 kB kid is over the size cap, and over the
        // kid's own cap where a policy allows large tokens.
        #expect(refusal(F.rsaToken(kid: "rsa-1\u{0}"), policy) == .malformed)
        let longKid = F.rsaToken(kid: String(repeating: "k", count: 10_000))
        #expect(refusal(longKid, policy) == .tooLarge)
        #expect(refusal(longKid, try F.policy(F.baseConfig.merging(patch: ["max_token_bytes": 65_536]))) == .malformed)
        let valid = F.rsaToken()
        let unsigned = String(valid[..<valid.lastIndex(of: ".")!]) + "."
        #expect(refusal(unsigned, policy) == .malformed)
        // ES256 with r = s = 0 (CVE-2022-21449).
        let zeros = F.token(header: #"{"alg":"ES256","kid":"ec-1"}"#, payload: F.claims()) { _ in [UInt8](repeating: 0, count: 64) }
        #expect(refusal(zeros, policy) == .badSignature)
        #expect(refusal(String(repeating: "a", count: 1_000_000), policy) == .tooLarge)
    }

    @Test func criticalHeadersAndDuplicateMembersAreRefused() throws {
        let policy = try F.policy()
        let crit = F.token(header: #"{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}"#, payload: F.claims()) { F.rs256($0) }
        #expect(refusal(crit, policy) == .criticalHeader)
        let twice = F.token(header: #"{"alg":"RS256","kid":"rsa-1"}"#, payload: #"{"sub":"a","exp":1900000000,"exp":1}"#) { F.rs256($0) }
        #expect(refusal(twice, policy) == .malformed)
        let headerTwice = F.token(header: #"{"alg":"RS256","alg":"HS256","kid":"rsa-1"}"#, payload: F.claims()) { F.rs256($0) }
        #expect(refusal(headerTwice, policy) == .malformed)
    }

    @Test func timeIssuerAndAudienceAreChecked() throws {
        let policy = try F.policy()
        #expect(refusal(F.rsaToken(["exp": .int(Int(F.now) - 31)]), policy) == .expired)
        #expect(refusal(F.rsaToken(["exp": .int(Int(F.now) - 29)]), policy) == nil)  // within the 30 s leeway
        #expect(refusal(F.rsaToken(["nbf": .int(Int(F.now) + 60)]), policy) == .notYetValid)
        #expect(refusal(F.rsaToken(["exp": JSONValue?.none]), policy) == .noExpiry)
        #expect(refusal(F.rsaToken(["exp": "tomorrow"]), policy) == .malformed)
        #expect(refusal(F.rsaToken(["iss": "https://evil.test"]), policy) == .wrongIssuer)
        #expect(refusal(F.rsaToken(["iss": JSONValue?.none]), policy) == .wrongIssuer)
        #expect(refusal(F.rsaToken(["aud": "other"]), policy) == .wrongAudience)
        #expect(refusal(F.rsaToken(["aud": ["other", "recipes"]]), policy) == nil)
        #expect(refusal(F.rsaToken(["aud": JSONValue?.none]), policy) == .wrongAudience)
        let lax = try F.policy(["algorithms": ["RS256"], "keys": [F.rsaJWK()], "require_exp": false])
        #expect(refusal(F.rsaToken(["exp": JSONValue?.none, "iss": "anyone"]), lax) == nil)
    }

    @Test func timesAtTheEdgesOfSixtyFourBitsNeitherCrashNorPass() throws {
        let policy = try F.policy()
        #expect(refusal(F.rsaToken(["exp": .int(Int.max)]), policy) == nil)
        #expect(refusal(F.rsaToken(["exp": .int(Int.min)]), policy) == .expired)
        #expect(refusal(F.rsaToken(["nbf": .int(Int.max)]), policy) == .notYetValid)
        #expect(refusal(F.rsaToken(["nbf": .int(Int.min)]), policy) == nil)
        #expect(refusal(F.rsaToken(["exp": .double(1e300)]), policy) == nil)
    }

    @Test func claimsWithControlCharactersAreNotForwarded() throws {
        let policy = try F.policy(F.baseConfig.merging(patch: ["forward_claims": ["a": "X-A", "b": "X-B", "c": "X-C"]]))
        let headers: RequestFields = ["authorization": "Bearer " + F.rsaToken(["a": "tab\tok", "b": "vt\u{0B}", "c": "del\u{7F}"])]
        guard case .verified(let claims, _) = policy.authenticate(headers: headers, query: nil) else {
            Issue.record("refused")
            return
        }
        #expect(claims.forwarded.map(\.0) == ["x-a"])
    }

    @Test func requiredScopesTypeAndClaims() throws {
        var config = F.baseConfig
        config = config.merging(patch: ["required_scopes": ["recipes:read"], "required_type": "application/at+jwt", "required_claims": ["tier": ["gold", "silver"]]])
        let policy = try F.policy(config)
        #expect(refusal(F.rsaToken(["tier": "gold"]), policy) == nil)
        #expect(refusal(F.rsaToken(["tier": "bronze"]), policy) == .claimNotAllowed)
        #expect(refusal(F.rsaToken(["tier": "gold", "scope": "profile"]), policy) == .missingScope)
        #expect(refusal(F.rsaToken(["tier": "gold", "scope": JSONValue?.none, "scp": ["recipes:read"]]), policy) == nil)
        let plain = F.token(header: #"{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"#, payload: F.claims(["tier": "gold"])) { F.rs256($0) }
        #expect(refusal(plain, policy) == .wrongType)
    }

    @Test func aRepeatedTokenIsACacheHitAndAnExpiredOneIsVerifiedAgain() throws {
        let metrics = PolicyMetrics()
        var clock = F.now
        let clockBox = ClockBox(clock)
        let policy = try Policy.read(["name": "jwt", "type": "jwt", "config": F.baseConfig], id: "00000000-0000-4000-8000-0000000000f2")
        let compiled = try JWTPolicy(
            name: "jwt", config: policy.config, consumers: ConsumerDirectory([]), cache: TokenCache(capacity: 2), metrics: metrics,
            now: { clockBox.seconds * 1000 })
        let token = F.rsaToken(["exp": .int(Int(F.now) + 10)])
        for _ in 0..<3 { #expect(refusal(token, compiled) == nil) }
        #expect(metrics.tokenCacheMisses.load(ordering: .relaxed) == 1)
        #expect(metrics.tokenCacheHits.load(ordering: .relaxed) == 2)
        clock += 41  // past exp and the leeway
        clockBox.seconds = clock
        #expect(refusal(token, compiled) == .expired)
        // The cache holds at most its capacity.
        for index in 0..<5 { _ = refusal(F.rsaToken(["jti": .int(index)]), compiled) }
        #expect(compiled.cache.count <= 2)
    }

    @Test func aConsumerClaimNamesAConsumerByCustomIDOrName() throws {
        var consumer = Consumer(header: EntityHeader(id: "00000000-0000-4000-8000-0000000000c9", name: "alice"))
        consumer.customID = "user-42"
        let config = F.baseConfig.merging(patch: ["consumer_claim": "sub"])
        let policy = try F.policy(config, consumers: [consumer])
        let headers: RequestFields = ["authorization": "Bearer " + F.rsaToken()]
        guard case .verified(_, let found) = policy.authenticate(headers: headers, query: nil) else {
            Issue.record("refused")
            return
        }
        #expect(found?.name == "alice")
        #expect(refusal(F.rsaToken(["sub": "nobody"]), policy) == .noConsumer)
    }

    @Test func admissionRefusesWhatCouldNeverVerifySafely() throws {
        func error(_ config: JSONValue) -> String? {
            do {
                let policy = try Policy.read(["name": "p", "type": "jwt", "config": config], id: "x")
                _ = try JWTPolicy.keys(policy.config)
                return nil
            } catch let error as ConfigError {
                return "\(error.field ?? ""): \(error.message)"
            } catch {
                return "\(error)"
            }
        }
        #expect(error(["keys": [F.rsaJWK()]])?.hasPrefix("config.algorithms: is required") == true)
        var withPrivate = F.rsaJWK().objectValue!
        withPrivate["d"] = "AAAA"
        #expect(error(["algorithms": ["RS256"], "keys": [.object(withPrivate)]])?.hasPrefix("config.keys[0].d: holds a private key part") == true)
        #expect(error(["algorithms": ["RS256", "PS256"], "keys": [F.rsaJWK(alg: nil)]])?.hasPrefix("config.keys[0].alg: says no alg") == true)
        #expect(error(["algorithms": ["RS256"], "keys": [F.rsaJWK(alg: nil)]]) == nil)
        #expect(error(["algorithms": ["ES256"], "keys": [F.rsaJWK()]])?.contains("which algorithms does not list") == true)
        #expect(error(["algorithms": ["HS256"], "keys": [["kty": "oct", "alg": "HS256", "k": "c2hvcnQ"]]])?.contains("at least 32 bytes") == true)
        #expect(error(["algorithms": ["RS256"], "keys": [["kty": "RSA", "alg": "RS256", "n": "AQAB", "e": "AQAB"]]])?.contains("at least 2048 bits") == true)
        for header in ["Content-Length", "X-Consumer-Groups", "Authorization", "X-Forwarded-For", "Cookie"] {
            #expect(error(["algorithms": ["RS256"], "keys": [F.rsaJWK()], "forward_claims": ["sub": .string(header)]])?.contains("a claim can be forwarded in") == true, "\(header)")
        }
        #expect(error(["algorithms": ["RS256"], "keys": [F.rsaJWK()], "forward_claims": ["a": "X-Dup", "b": "X-Dup"]])?.contains("already carries another claim") == true)
        #expect(error(["algorithms": ["RS256"], "keys": [F.rsaJWK()], "header": "host"])?.contains("not a header a token can be read from") == true)
        for uri in ["http:///x", "http://u:p@127.0.0.1/x", "ftp://idp.test/jwks", "http://idp.tést/jwks"] {
            #expect(error(["algorithms": ["RS256"], "jwks_uri": .string(uri)])?.contains("is not an http(s) URL") == true, "\(uri)")
        }
        let short = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        #expect(error(["algorithms": ["RS256"], "keys": [F.rsaJWK(short)]])?.contains("at least 2048 bits") == true)
    }
}

/// A clock a test moves by hand.
final class ClockBox: @unchecked Sendable {
    var seconds: Int64
    init(_ seconds: Int64) { self.seconds = seconds }
}

extension JWTTests {
    @Test func pemPublicKeysVerifyForTheAlgorithmTheyAreGiven() throws {
        typealias F = JWTFixtures
        let config: JSONValue = [
            "algorithms": ["RS256", "ES256"], "issuers": ["https://idp.test"], "audiences": ["recipes"],
            "keys": [
                ["pem": .string(F.rsa.publicKey.pemRepresentation), "alg": "RS256", "kid": "rsa-1"],
                ["pem": .string(F.ec.publicKey.pemRepresentation), "alg": "ES256"],
            ],
        ]
        let policy = try F.policy(config)
        #expect(refusal(F.rsaToken(), policy) == nil)
        #expect(refusal(F.token(header: #"{"alg":"ES256"}"#, payload: F.claims()) { F.es256($0) }, policy) == nil)
        // The RSA key verifies RS256 only: an HS256 token "signed" with its PEM text is refused.
        let forged = F.token(header: #"{"alg":"HS256","kid":"rsa-1"}"#, payload: F.claims()) {
            F.hs256($0, secret: Array(F.rsa.publicKey.pemRepresentation.utf8))
        }
        #expect(refusal(forged, policy) == .algorithmNotAccepted)
    }

    @Test func aPEMKeyNeedsItsAlgorithmAndAWeakOneIsRefusedWhenBuilt() throws {
        func admission(_ key: JSONValue) -> String? {
            do {
                let policy = try Policy.read(["name": "jwt", "type": "jwt", "config": ["algorithms": ["RS256", "HS256"], "keys": [key]]])
                _ = try JWTPolicy.keys(policy.config)
                return nil
            } catch let error as ConfigError {
                return error.field
            } catch {
                return "\(error)"
            }
        }
        let pem = JWTFixtures.rsa.publicKey.pemRepresentation
        #expect(admission(["pem": .string(pem)]) == "config.keys[0].alg")
        #expect(admission(["pem": .string(pem), "alg": "HS256"]) == "config.keys[0].alg")
        #expect(admission(["pem": "not a key", "alg": "RS256"]) == "config.keys[0].pem")
        #expect(admission(["pem": .string(pem), "alg": "RS256", "d": "secret"]) == "config.keys[0].d")
        let weak = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).publicKey.pemRepresentation
        #expect(admission(["pem": .string(weak), "alg": "RS256"])?.hasPrefix("keys[0]") == true)
    }
}
