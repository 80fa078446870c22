/// Admission rules for `jwt` configs: which algorithms a policy accepts, the keys it verifies
/// with (each bound to one algorithm), and the claims a token must carry. The keys' own bytes
/// (a modulus, a curve point) are checked again when a data plane builds them, and a write whose
/// keys cannot be built is refused like any config a data plane could not serve.
public enum JWTConfigRules {
    /// Every algorithm a policy may accept (RFC 7518 and RFC 8037); never `none`.
    public static let algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"]

    /// The one algorithm a JWK is for: its `alg`, else the one its curve allows (EC, OKP), else
    /// the policy's only algorithm of its family (an RSA key without `alg`, with one RS/PS
    /// algorithm accepted). Nil when that leaves a choice: a token's `alg` never picks it.
    public static func algorithm(ofJWK key: [String: JSONValue], accepted: [String]) -> String? {
        if case .string(let alg)? = key["alg"] { return alg }
        switch (key["kty"]?.stringValue, key["crv"]?.stringValue) {
        case ("EC", "P-256"): return "ES256"
        case ("EC", "P-384"): return "ES384"
        case ("EC", "P-521"): return "ES512"
        case ("OKP", "Ed25519"): return "EdDSA"
        case ("RSA", _):
            let rsa = accepted.filter { $0.hasPrefix("RS") || $0.hasPrefix("PS") }
            return rsa.count == 1 ? rsa[0] : nil
        default: return nil
        }
    }

    static func normalize(_ reader: inout FieldReader) throws(ConfigError) -> [String: JSONValue] {
        guard let accepted = try reader.optionalStrings("algorithms"), !accepted.isEmpty else {
            throw .invalid("is required: list the algorithms tokens may be signed with (RS256, ES256, …); a token's alg never chooses", field: reader.field("algorithms"))
        }
        for (index, alg) in accepted.enumerated() where !algorithms.contains(alg) {
            let why = alg.lowercased() == "none" ? "unsigned tokens are never accepted" : "use one of \(algorithms.joined(separator: ", "))"
            throw .invalid("'\(alg)' is not an algorithm a policy can accept: \(why)", field: "\(reader.field("algorithms"))[\(index)]")
        }
        var fields: [String: JSONValue] = ["algorithms": .array(Array(Set(accepted)).sorted().map(JSONValue.string))]

        let keys = try reader.optionalArray("keys") ?? []
        for (index, key) in keys.enumerated() {
            try checkKey(key, accepted: accepted, field: "\(reader.field("keys"))[\(index)]")
        }
        fields["keys"] = .array(keys)
        let jwksURI = try reader.optionalString("jwks_uri")
        if let jwksURI { try TokenRules.checkURL(jwksURI, field: reader.field("jwks_uri")) }
        fields["jwks_uri"] = jwksURI.map(JSONValue.string) ?? .null
        guard !keys.isEmpty || jwksURI != nil else {
            throw .invalid("must list at least one key (JWK objects) to verify tokens with, or give a jwks_uri", field: reader.field("keys"))
        }
        func duration(_ key: String, _ fallback: Duration, _ range: ClosedRange<Duration>) throws(ConfigError) -> Duration {
            let value = try reader.optionalDuration(key) ?? fallback
            guard range.contains(value) else { throw .invalid("must be from \(range.lowerBound.configText) to \(range.upperBound.configText)", field: reader.field(key)) }
            fields[key] = .string(value.configText)
            return value
        }
        let minimum = try duration("jwks_refresh_min", .seconds(60), .seconds(1)...Duration.seconds(86_400))
        let maximum = try duration("jwks_refresh_max", .seconds(3_600), .seconds(1)...Duration.seconds(86_400))
        guard minimum <= maximum else { throw .invalid("must not be under jwks_refresh_min", field: reader.field("jwks_refresh_max")) }
        _ = try duration("jwks_keep_stale", .seconds(86_400), .seconds(0)...Duration.seconds(7 * 86_400))
        _ = try duration("jwks_refetch_cooldown", .seconds(30), .seconds(1)...Duration.seconds(3_600))
        _ = try duration("jwks_timeout", .seconds(5), .milliseconds(100)...Duration.seconds(60))

        if let issuers = try reader.optionalStrings("issuers") {
            guard !issuers.isEmpty else { throw .invalid("must not be empty: leave it out to accept any issuer", field: reader.field("issuers")) }
            fields["issuers"] = .array(Array(Set(issuers)).sorted().map(JSONValue.string))
        } else {
            fields["issuers"] = .null
        }
        fields["require_exp"] = .bool(try reader.optionalBool("require_exp") ?? true)
        let leeway = try reader.optionalDuration("leeway") ?? .seconds(30)
        guard leeway >= .zero, leeway <= .seconds(300) else { throw .invalid("must be from 0s to 5m", field: reader.field("leeway")) }
        fields["leeway"] = .string(leeway.configText)
        fields["required_type"] = try reader.optionalString("required_type").map(JSONValue.string) ?? .null
        var claims: [String: JSONValue] = [:]
        if var required = try reader.optionalObject("required_claims") {
            for name in required.keys.sorted() {
                guard let values = try required.optionalStrings(name), !values.isEmpty else {
                    throw .invalid("must list the values the claim may have", field: required.field(name))
                }
                claims[name] = .array(Array(Set(values)).sorted().map(JSONValue.string))
            }
        }
        fields["required_claims"] = .object(claims)
        try TokenRules.normalize(&reader, into: &fields)
        return fields
    }

    /// A public key in PEM (`{"pem": "-----BEGIN PUBLIC KEY-----…", "alg": "RS256", "kid": …}`):
    /// its algorithm must be given, as PEM says none; the key itself is read when a data plane
    /// builds it (a modulus under 2048 bits or a point off its curve is refused then, as a 400).
    static func checkPEMKey(_ key: [String: JSONValue], accepted: [String], field: String) throws(ConfigError) {
        guard case .string(let pem)? = key["pem"],
            pem.hasPrefix("-----BEGIN PUBLIC KEY-----") || pem.hasPrefix("-----BEGIN RSA PUBLIC KEY-----")
        else { throw .invalid("is not a PEM public key (-----BEGIN PUBLIC KEY-----)", field: "\(field).pem") }
        guard case .string(let alg)? = key["alg"] else { throw .invalid("a PEM key needs alg: PEM does not say its algorithm", field: "\(field).alg") }
        guard accepted.contains(alg) else { throw .invalid("is for \(alg), which algorithms does not list", field: "\(field).alg") }
        guard !alg.hasPrefix("HS") else { throw .invalid("an HMAC secret is not a PEM key: give it as an oct JWK", field: "\(field).alg") }
        if let kid = key["kid"], (kid.stringValue?.utf8.count ?? 0) == 0 || (kid.stringValue?.utf8.count ?? 0) > 256 {
            throw .invalid("kid is a string of 1 to 256 bytes", field: "\(field).kid")
        }
        if let extra = key.keys.sorted().first(where: { !["pem", "alg", "kid", "use"].contains($0) }) {
            throw .invalid("unknown key; a PEM key has pem, alg, kid and use", field: "\(field).\(extra)")
        }
        if let use = key["use"], use != .string("sig") { throw .invalid("is not for signatures (use must be sig)", field: "\(field).use") }
    }

    /// A JWK the policy can verify with: public, for signatures, bound to one accepted algorithm.
    /// Keys fetched from a `jwks_uri` are checked by the same rules, and `oct` secrets refused.
    public static func checkKey(_ value: JSONValue, accepted: [String], field: String) throws(ConfigError) {
        guard case .object(let key) = value else { throw .invalid("a key is a JWK object", field: field) }
        if key["pem"] != nil { return try checkPEMKey(key, accepted: accepted, field: field) }
        let kty = key["kty"]?.stringValue
        let needed: [String]
        switch kty {
        case "RSA": needed = ["n", "e"]
        case "EC": needed = ["crv", "x", "y"]
        case "OKP": needed = ["crv", "x"]
        case "oct": needed = ["k"]
        default: throw .invalid("kty must be RSA, EC, OKP or oct", field: "\(field).kty")
        }
        for member in needed where key[member]?.stringValue == nil {
            throw .invalid("a \(kty!) key needs \(member)", field: "\(field).\(member)")
        }
        if kty != "oct", let secret = ["d", "p", "q", "dp", "dq", "qi"].first(where: { key[$0] != nil }) {
            throw .invalid("holds a private key part (\(secret)): give the public key only", field: "\(field).\(secret)")
        }
        if let use = key["use"], use != .string("sig") { throw .invalid("is not for signatures (use must be sig)", field: "\(field).use") }
        if let ops = key["key_ops"], !(ops.arrayValue ?? []).contains(.string("verify")) {
            throw .invalid("does not allow verify", field: "\(field).key_ops")
        }
        if let kid = key["kid"], (kid.stringValue?.utf8.count ?? 0) == 0 || (kid.stringValue?.utf8.count ?? 0) > 256 {
            throw .invalid("kid is a string of 1 to 256 bytes", field: "\(field).kid")
        }
        guard let alg = algorithm(ofJWK: key, accepted: accepted) else {
            throw .invalid("says no alg and could be used with several: give it one", field: "\(field).alg")
        }
        guard accepted.contains(alg) else { throw .invalid("is for \(alg), which algorithms does not list", field: "\(field).alg") }
        let family: String? =
            switch alg.prefix(2) {
            case "RS", "PS": "RSA"
            case "ES": "EC"
            case "Ed": "OKP"
            case "HS": "oct"
            default: nil
            }
        guard family == kty else { throw .invalid("a \(kty!) key cannot verify \(alg)", field: "\(field).alg") }
    }
}
