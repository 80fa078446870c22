import Atomics
import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// What a verified token says that the gateway acts on: who it is for, its scopes, the headers
/// its claims are forwarded in, and the consumer it names (`consumer_claim`).
struct VerifiedClaims: Sendable {
    let subject: String?
    let scopes: String?
    let consumerClaim: String?
    /// Claim values to forward, as header name and value (values with control characters are dropped).
    let forwarded: [(String, String)]
}

/// A `jwt` policy compiled: where the token is read from, the keys it is verified with (each
/// bound to one algorithm), and the claims it must carry. Verifying is synchronous and on the
/// event loop: a signature check (tens of microseconds for RS256) only for a token not seen
/// before, then a lookup in the policy's `TokenCache`. Immutable.
final class JWTPolicy: Sendable {
    let name: String
    let keys: [JWTKey]
    let accepted: Set<JWTAlgorithm>
    let issuers: Set<String>?
    let requireExpiry: Bool
    let leeway: Int64
    let requiredType: String?
    let requiredClaims: [String: Set<String>]
    let claimRules: ClaimRules
    let location: TokenLocation
    let hideCredentials: Bool
    let anonymous: CompiledConsumer?
    let consumers: ConsumerDirectory
    let cache: TokenCache
    /// Keys published at the policy's `jwks_uri`, beside its own.
    let jwks: JWKSSource?
    let metrics: PolicyMetrics
    let failures: AuthFailures
    /// Wall-clock milliseconds since the epoch.
    let now: @Sendable () -> Int64
    /// Headers the client may not send on a route this policy guards: those the gateway writes.
    let ownHeaders: [String]

    init(
        name: String, config: JSONValue, consumers: ConsumerDirectory, cache: TokenCache, jwks: JWKSSource? = nil, metrics: PolicyMetrics,
        now: @escaping @Sendable () -> Int64
    ) throws(JWTKey.Unusable) {
        self.jwks = jwks
        self.name = name
        failures = metrics.authFailures(name, .jwt)
        let accepted = config["algorithms"]?.arrayValue?.compactMap(\.stringValue) ?? []
        self.accepted = Set(accepted.compactMap(JWTAlgorithm.init(rawValue:)))
        keys = try Self.keys(config)
        issuers = config["issuers"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        requireExpiry = config["require_exp"]?.boolValue ?? true
        leeway = (config["leeway"]?.stringValue.flatMap(Duration.init(configText:)) ?? .seconds(30)).components.seconds
        requiredType = config["required_type"]?.stringValue
        requiredClaims = (config["required_claims"]?.objectValue ?? [:]).mapValues { Set($0.arrayValue?.compactMap(\.stringValue) ?? []) }
        claimRules = ClaimRules(config)
        location = TokenLocation(config)
        hideCredentials = config["hide_credentials"]?.boolValue ?? true
        anonymous = config["anonymous"]?.stringValue.flatMap { consumers.byName[$0] }
        self.consumers = consumers
        self.cache = cache
        self.metrics = metrics
        self.now = now
        ownHeaders = claimRules.ownHeaders + (hideCredentials ? [location.header] : [])
    }

    /// The config's keys, built; the first that cannot be is named.
    static func keys(_ config: JSONValue) throws(JWTKey.Unusable) -> [JWTKey] {
        let accepted = config["algorithms"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var keys: [JWTKey] = []
        for (index, key) in (config["keys"]?.arrayValue ?? []).enumerated() {
            do {
                keys.append(try JWTKey(jwk: key.objectValue ?? [:], accepted: accepted))
            } catch {
                throw JWTKey.Unusable(description: "keys[\(index)]: \(error.description)")
            }
        }
        return keys
    }

    enum Outcome {
        case verified(VerifiedClaims, consumer: CompiledConsumer?)
        case missing
        case refused(TokenRefusal)
    }

    /// - Parameter recording: false for `explain`: nothing is cached, counted or fetched.
    func authenticate(headers: RequestFields, query: Substring?, recording: Bool = true) -> Outcome {
        guard let token = location.find(headers: headers, query: query) else { return .missing }
        guard token.utf8.count <= location.maxTokenBytes else { return .refused(.tooLarge) }
        let seconds = now() / 1000
        let key = TokenCache.key(token)
        let published = jwks?.current
        if let claims = cache.lookup(key, now: seconds, generation: published?.generation ?? 0) {
            if recording { metrics.tokenCacheHits.wrappingIncrement(ordering: .relaxed) }
            return outcome(claims)
        }
        if recording { metrics.tokenCacheMisses.wrappingIncrement(ordering: .relaxed) }
        do {
            let (claims, until) = try verify(token, at: seconds, with: published.map { keys + $0.keys } ?? keys)
            if recording { cache.store(key, .init(usableUntil: until, generation: published?.generation ?? 0, claims: claims)) }
            return outcome(claims)
        } catch {
            return .refused(error)
        }
    }

    private func outcome(_ claims: VerifiedClaims) -> Outcome {
        switch claimRules.consumer(of: claims, in: consumers) {
        case .success(let consumer): .verified(claims, consumer: consumer)
        case .failure(let refusal): .refused(refusal)
        }
    }

    /// Checks the signature, then the claims. Returns what the token lets through and until when.
    func verify(_ token: Substring, at now: Int64, with keys: [JWTKey]) throws(TokenRefusal) -> (VerifiedClaims, Int64?) {
        let signed = try SignedToken.verify(token, keys: keys, accepted: accepted)
        if let requiredType {
            guard case .string(let typ)? = signed.header["typ"], Self.sameMediaType(typ, requiredType) else { throw .wrongType }
        }
        guard case .object(let claims)? = try? JSONValue.parse(signed.payload) else { throw .malformed }
        let expiry = try Self.seconds(claims["exp"])
        if expiry == nil, requireExpiry { throw .noExpiry }
        if let expiry, now > expiry + leeway { throw .expired }
        if let notBefore = try Self.seconds(claims["nbf"]), now + leeway < notBefore { throw .notYetValid }
        if let issuers {
            guard case .string(let issuer)? = claims["iss"], issuers.contains(issuer) else { throw .wrongIssuer }
        }
        for (claim, allowed) in requiredClaims {
            let values: [String]
            switch claims[claim] {
            case .string(let one)?: values = [one]
            case .array(let many)?: values = many.compactMap(\.stringValue)
            case .bool(let flag)?: values = [flag ? "true" : "false"]
            case .int(let number)?: values = [String(number)]
            default: values = []
            }
            guard values.contains(where: allowed.contains) else { throw .claimNotAllowed }
        }
        return (try claimRules.check(claims), expiry.map { $0 + leeway })
    }

    /// A NumericDate (RFC 7519 §2): a number of seconds; fractions are cut. Anything else where
    /// the claim is present makes the token malformed.
    static func seconds(_ value: JSONValue?) throws(TokenRefusal) -> Int64? {
        // Held within ±10¹² s (some 30,000 years), so adding a leeway can never overflow.
        let bound: Int64 = 1_000_000_000_000
        switch value {
        case nil: return nil
        case .int(let seconds)?: return min(max(Int64(seconds), -bound), bound)
        case .double(let seconds)? where seconds.isFinite: return Int64(min(max(seconds, -1e12), 1e12))
        default: throw .malformed
        }
    }

    /// `at+jwt` and `application/at+jwt` name one type (RFC 7515 §4.1.9), in any case.
    private static func sameMediaType(_ a: String, _ b: String) -> Bool {
        func bare(_ type: String) -> String {
            let lower = type.lowercased()
            return lower.hasPrefix("application/") ? String(lower.dropFirst(12)) : lower
        }
        return bare(a) == bare(b)
    }
}
