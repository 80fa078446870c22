import GatehouseModel
import NIOHTTP1

/// Who a request goes on as once a route's authentication ran: the consumer a credential
/// identified (or none, for a token mapped to no consumer), or the anonymous one; and what a
/// token policy forwards about the token.
struct Caller {
    let consumer: CompiledConsumer?
    /// False for the anonymous fallback.
    let identified: Bool
    let token: VerifiedClaims?
    /// The policy that decided, for `explain`.
    let policy: String
}

/// What a route's authentication policies decide for a request. Several on one route mean any
/// one suffices: the first credential that verifies wins (key-auth, then jwt, then
/// oauth2-introspection); with none, the anonymous consumer one of them offers; else a 401
/// naming the first credential that was refused, or that none was sent. A token the
/// authorization server could not judge is a 503, anonymous consumer or not: it is neither
/// missing nor wrong. Pure: no I/O, so `explain` reaches the same decision; where an
/// introspection answer is needed and not cached, the decision is `ask`, and it is made again
/// once the answer is in (`introspected`).
enum AuthenticationDecision {
    case caller(Caller)
    /// `sent`: a credential was sent and refused (else none was). `unavailable`: the token could
    /// not be checked (503).
    case refused(message: String, challenges: [(String, String)], reasons: [(policy: String, reason: String)], sent: Bool, unavailable: Bool)
    case ask(IntrospectionPolicy, token: Substring, key: ConsumerDirectory.Digest)

    static let bearerChallenge = ("www-authenticate", "Bearer realm=\"gatehouse\"")
    static let invalidTokenChallenge = ("www-authenticate", "Bearer realm=\"gatehouse\", error=\"invalid_token\"")

    /// - Parameter recording: false for `explain`: no cache, counter or key fetch is touched.
    init(
        _ chain: PolicyChain, headers: HTTPHeaders, query: Substring?, metrics: PolicyMetrics, recording: Bool = true,
        introspected: IntrospectionEndpoint.Verdict? = nil
    ) {
        var anonymous: Caller?
        var refusal: (message: String, challenge: (String, String))?
        var reasons: [(policy: String, reason: String)] = []
        if let keyAuth = chain.keyAuth {
            switch keyAuth.authenticate(headers: headers, query: query) {
            case .identified(let consumer, _):
                self = .caller(Caller(consumer: consumer, identified: true, token: nil, policy: keyAuth.name))
                return
            case .anonymous(let consumer, _):
                anonymous = Caller(consumer: consumer, identified: false, token: nil, policy: keyAuth.name)
            case .missing:
                reasons.append((keyAuth.name, "no key"))
            case .invalid:
                reasons.append((keyAuth.name, "the key belongs to no consumer"))
                refusal = ("the API key is not valid", KeyAuthPolicy.challenge)
            }
        }
        if let jwt = chain.jwt {
            switch jwt.authenticate(headers: headers, query: query, recording: recording) {
            case .verified(let claims, let consumer):
                self = .caller(Caller(consumer: consumer, identified: true, token: claims, policy: jwt.name))
                return
            case .missing:
                reasons.append((jwt.name, "no token"))
                if anonymous == nil, let consumer = jwt.anonymous { anonymous = Caller(consumer: consumer, identified: false, token: nil, policy: jwt.name) }
            case .refused(let why):
                if recording { metrics.refused(why, by: .jwt) }
                reasons.append((jwt.name, why.message))
                if anonymous == nil, let consumer = jwt.anonymous { anonymous = Caller(consumer: consumer, identified: false, token: nil, policy: jwt.name) }
                if refusal == nil { refusal = (why.message, Self.invalidTokenChallenge) }
            }
        }
        if let introspection = chain.introspection {
            switch introspected.map(introspection.outcome) ?? introspection.authenticate(headers: headers, query: query, recording: recording) {
            case .verified(let claims, let consumer):
                self = .caller(Caller(consumer: consumer, identified: true, token: claims, policy: introspection.name))
                return
            case .ask(let token, let key):
                self = .ask(introspection, token: token, key: key)
                return
            case .missing:
                reasons.append((introspection.name, "no token"))
                if anonymous == nil, let consumer = introspection.anonymous {
                    anonymous = Caller(consumer: consumer, identified: false, token: nil, policy: introspection.name)
                }
            case .refused(let why) where why.isUnavailable:
                if recording { metrics.refused(why, by: .oauth2Introspection) }
                reasons.append((introspection.name, why.message))
                self = .refused(message: why.message, challenges: [], reasons: reasons, sent: true, unavailable: true)
                return
            case .refused(let why):
                if recording { metrics.refused(why, by: .oauth2Introspection) }
                reasons.append((introspection.name, why.message))
                if anonymous == nil, let consumer = introspection.anonymous {
                    anonymous = Caller(consumer: consumer, identified: false, token: nil, policy: introspection.name)
                }
                if refusal == nil { refusal = (why.message, Self.invalidTokenChallenge) }
            }
        }
        if let anonymous {
            self = .caller(anonymous)
        } else if let refusal {
            self = .refused(message: refusal.message, challenges: [refusal.challenge], reasons: reasons, sent: true, unavailable: false)
        } else {
            let tokens = chain.jwt != nil || chain.introspection != nil
            let message =
                !tokens
                ? chain.keyAuth?.missingKeyMessage ?? "no credential"
                : chain.keyAuth == nil ? TokenRefusal.missing.message : "no credential: send an API key or a bearer token"
            // One challenge per scheme, built only for a refusal: a request that passes allocates none.
            let challenges = (chain.keyAuth == nil ? [] : [KeyAuthPolicy.challenge]) + (tokens ? [Self.bearerChallenge] : [])
            self = .refused(message: message, challenges: challenges, reasons: reasons, sent: false, unavailable: false)
        }
    }
}
