import GatehouseModel

/// What a token policy (`jwt`, `oauth2-introspection`) needs of a token's claims once the token
/// is known good: an accepted audience, the required scopes; and what it forwards: the subject,
/// the scopes, selected claims as headers, and the claim that names the consumer. Immutable.
struct ClaimRules: Sendable {
    let audiences: Set<String>?
    let requiredScopes: [String]
    let forwardClaims: [(claim: String, header: String)]
    let consumerClaim: String?

    init(_ config: JSONValue) {
        audiences = config["audiences"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        requiredScopes = config["required_scopes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        forwardClaims = (config["forward_claims"]?.objectValue ?? [:]).compactMap { claim, header in
            header.stringValue.map { (claim, $0) }
        }.sorted { $0.claim < $1.claim }
        consumerClaim = config["consumer_claim"]?.stringValue
    }

    /// The headers the gateway writes from a token: a client's own of these names never pass.
    var ownHeaders: [String] { ["x-token-subject", "x-token-scopes"] + forwardClaims.map(\.header) }

    func check(_ claims: [String: JSONValue]) throws(TokenRefusal) -> VerifiedClaims {
        if let audiences {
            let named: [String]
            switch claims["aud"] {
            case .string(let one)?: named = [one]
            case .array(let many)?: named = many.compactMap(\.stringValue)
            default: named = []
            }
            guard named.contains(where: audiences.contains) else { throw .wrongAudience }
        }
        let scopes = Self.scopes(claims)
        if !requiredScopes.isEmpty {
            let granted = Set(scopes?.split(separator: " ").map(String.init) ?? [])
            guard requiredScopes.allSatisfy(granted.contains) else { throw .missingScope }
        }
        let forwarded = forwardClaims.compactMap { claim, header -> (String, String)? in
            guard let value = claims[claim].flatMap(Self.headerValue) else { return nil }
            return (header, value)
        }
        return VerifiedClaims(
            subject: claims["sub"].flatMap(Self.headerValue), scopes: scopes.flatMap { Self.headerValue(.string($0)) },
            consumerClaim: consumerClaim.flatMap { claims[$0]?.stringValue }, forwarded: forwarded)
    }

    /// The consumer a token names through `consumer_claim`; without one, the token goes on as
    /// no consumer.
    func consumer(of claims: VerifiedClaims, in consumers: ConsumerDirectory) -> Result<CompiledConsumer?, TokenRefusal> {
        guard consumerClaim != nil else { return .success(nil) }
        guard let value = claims.consumerClaim, let consumer = consumers.byCustomIDOrName(value) else { return .failure(.noConsumer) }
        return .success(consumer)
    }

    /// `scope` (RFC 8693, space-separated) or `scp` (a list, as some IdPs send).
    private static func scopes(_ claims: [String: JSONValue]) -> String? {
        if case .string(let scope)? = claims["scope"] { return scope }
        if case .array(let list)? = claims["scp"] { return list.compactMap(\.stringValue).joined(separator: " ") }
        return nil
    }

    /// A claim as a header value: strings as they are, numbers (`12.5`; `1e3` as `1000`) and
    /// booleans as text; nil for
    /// anything holding CR, LF or NUL, or not a scalar.
    private static func headerValue(_ value: JSONValue) -> String? {
        let text: String
        switch value {
        case .string(let string): text = string
        case .int(let number): text = String(number)
        case .double(let number) where number.isFinite:
            text = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): text = flag ? "true" : "false"
        default: return nil
        }
        // No control character but tab (RFC 9110 §5.5): CR and LF would split the field.
        guard !text.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return nil }
        return text
    }
}
