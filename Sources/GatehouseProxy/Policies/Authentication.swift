import GatehouseHTTP1
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

/// What a request's authentication waits for: an authorization server's answer about its
/// token, or the pool's check of its password.
enum AuthenticationWait {
    case introspection(IntrospectionPolicy, token: Substring, key: ConsumerDirectory.Digest)
    case password(BasicAuthPolicy, BasicAuthPolicy.Check)
    /// A token named a `kid` the policy's key set lacks: the set is fetched again first.
    case keys(JWTPolicy, JWKSSource)
}

/// The answers a request waited for, given when its authentication is decided again.
struct AuthenticationAnswers {
    var introspected: IntrospectionEndpoint.Verdict?
    var password: PasswordChecker.Result?
    /// The key set was fetched again for this request (or could not be): an unknown `kid` is refused.
    var keysRefetched = false
}

/// What a route's authentication policies decide for a request. Several on one route mean any
/// one suffices: the first credential that verifies wins (key-auth, jwt, basic-auth, then
/// oauth2-introspection); with none, the anonymous consumer one of them offers; else a 401
/// naming the first credential that was refused, or that none was sent. A credential that could
/// not be checked (the authorization server down, the password pool full) is a 503, and a client
/// that failed basic-auth too often a 429, anonymous consumer or not: those are neither missing
/// nor wrong. Pure: no I/O, so `explain` reaches the same decision; where an introspection answer
/// or a password check is needed, the decision is `wait`, and it is made again once the answer is
/// in (`answers`).
enum AuthenticationDecision {
    case caller(Caller)
    /// `sent`: a credential was sent and refused (else none was). `status`: 401, or 503 or 429
    /// for a credential not judged. `failure`: the policy a 401 is counted for, and why (the
    /// first that refused a credential, else the first that found none).
    case refused(
        message: String, challenges: [(String, String)], reasons: [(policy: String, reason: String)], sent: Bool, status: HTTPResponseStatus,
        failure: (counters: AuthFailures, reason: AuthFailure)? = nil)
    case wait(AuthenticationWait)

    static let bearerChallenge = ("www-authenticate", "Bearer realm=\"gatehouse\"")
    static let invalidTokenChallenge = ("www-authenticate", "Bearer realm=\"gatehouse\", error=\"invalid_token\"")

    /// - Parameter recording: false for `explain`: no cache, counter or key fetch is touched.
    init(
        _ chain: PolicyChain, headers: RequestFields, query: Substring?, client: String, metrics: PolicyMetrics, recording: Bool = true,
        answers: AuthenticationAnswers = AuthenticationAnswers()
    ) {
        var anonymous: Caller?
        var refusal: (message: String, challenge: (String, String), failure: (AuthFailures, AuthFailure))?
        var firstMissing: AuthFailures?
        var reasons: [(policy: String, reason: String)] = []
        // The first anonymous consumer a policy offers, for a request none identifies.
        func offerAnonymous(_ consumer: CompiledConsumer?, _ policy: String) {
            if anonymous == nil, let consumer { anonymous = Caller(consumer: consumer, identified: false, token: nil, policy: policy) }
        }
        if let keyAuth = chain.keyAuth {
            switch keyAuth.authenticate(headers: headers, query: query) {
            case .identified(let consumer, _):
                self = .caller(Caller(consumer: consumer, identified: true, token: nil, policy: keyAuth.name))
                return
            case .anonymous(let consumer, _):
                offerAnonymous(consumer, keyAuth.name)
            case .missing:
                reasons.append((keyAuth.name, "no key"))
                firstMissing = firstMissing ?? keyAuth.failures
            case .invalid:
                reasons.append((keyAuth.name, "the key belongs to no consumer"))
                refusal = ("the API key is not valid", KeyAuthPolicy.challenge, (keyAuth.failures, .invalidKey))
            }
        }
        if let jwt = chain.jwt {
            switch jwt.authenticate(headers: headers, query: query, recording: recording) {
            case .verified(let claims, let consumer):
                self = .caller(Caller(consumer: consumer, identified: true, token: claims, policy: jwt.name))
                return
            case .missing:
                reasons.append((jwt.name, "no token"))
                firstMissing = firstMissing ?? jwt.failures
                offerAnonymous(jwt.anonymous, jwt.name)
            case .refused(.unknownKey) where !answers.keysRefetched && jwt.jwks != nil:
                self = .wait(.keys(jwt, jwt.jwks!))
                return
            case .refused(let why):
                if recording { metrics.refused(why, by: .jwt) }
                reasons.append((jwt.name, why.message))
                offerAnonymous(jwt.anonymous, jwt.name)
                if refusal == nil { refusal = (why.message, Self.invalidTokenChallenge, (jwt.failures, .token(why))) }
            }
        }
        if let basicAuth = chain.basicAuth {
            switch basicAuth.authenticate(headers: headers, client: client, checked: answers.password) {
            case .identified(let consumer):
                if recording { metrics.count(.basicAuth, answers.password == nil ? .remembered : .allowed) }
                self = .caller(Caller(consumer: consumer, identified: true, token: nil, policy: basicAuth.name))
                return
            case .check(let check):
                self = .wait(.password(basicAuth, check))
                return
            case .missing:
                reasons.append((basicAuth.name, "no credentials"))
                firstMissing = firstMissing ?? basicAuth.failures
                offerAnonymous(basicAuth.anonymous, basicAuth.name)
            case .refused(let why) where why == .throttled || why == .busy:
                if recording { metrics.count(.basicAuth, why == .busy ? .busy : .throttled) }
                reasons.append((basicAuth.name, why.message))
                self = .refused(
                    message: why.message, challenges: [], reasons: reasons, sent: true, status: why == .busy ? .serviceUnavailable : .tooManyRequests)
                return
            case .refused(let why):
                if recording { metrics.count(.basicAuth, why == .malformed ? .malformed : .wrongPassword) }
                reasons.append((basicAuth.name, why.message))
                offerAnonymous(basicAuth.anonymous, basicAuth.name)
                if refusal == nil { refusal = (why.message, basicAuth.challenge, (basicAuth.failures, why == .malformed ? .malformed : .wrongPassword)) }
            }
        }
        if let introspection = chain.introspection {
            switch answers.introspected.map(introspection.outcome) ?? introspection.authenticate(headers: headers, query: query, recording: recording) {
            case .verified(let claims, let consumer):
                self = .caller(Caller(consumer: consumer, identified: true, token: claims, policy: introspection.name))
                return
            case .ask(let token, let key):
                self = .wait(.introspection(introspection, token: token, key: key))
                return
            case .missing:
                reasons.append((introspection.name, "no token"))
                firstMissing = firstMissing ?? introspection.failures
                offerAnonymous(introspection.anonymous, introspection.name)
            case .refused(let why) where why.isUnavailable:
                if recording { metrics.refused(why, by: .oauth2Introspection) }
                reasons.append((introspection.name, why.message))
                self = .refused(message: why.message, challenges: [], reasons: reasons, sent: true, status: .serviceUnavailable)
                return
            case .refused(let why):
                if recording { metrics.refused(why, by: .oauth2Introspection) }
                reasons.append((introspection.name, why.message))
                offerAnonymous(introspection.anonymous, introspection.name)
                if refusal == nil { refusal = (why.message, Self.invalidTokenChallenge, (introspection.failures, .token(why))) }
            }
        }
        if let anonymous {
            self = .caller(anonymous)
        } else if let refusal {
            self = .refused(
                message: refusal.message, challenges: [refusal.challenge], reasons: reasons, sent: true, status: .unauthorized, failure: refusal.failure)
        } else {
            let tokens = chain.jwt != nil || chain.introspection != nil
            let schemes = (chain.keyAuth == nil ? 0 : 1) + (tokens ? 1 : 0) + (chain.basicAuth == nil ? 0 : 1)
            let message =
                schemes > 1
                ? "no credential: send \([chain.keyAuth.map { _ in "an API key" }, tokens ? "a bearer token" : nil, chain.basicAuth.map { _ in "a username and password" }].compactMap { $0 }.joined(separator: " or "))"
                : tokens ? TokenRefusal.missing.message
                : chain.basicAuth != nil ? "no credentials: send a username and password (HTTP Basic)" : chain.keyAuth?.missingKeyMessage ?? "no credential"
            // One challenge per scheme, built only for a refusal: a request that passes allocates none.
            let challenges =
                (chain.keyAuth == nil ? [] : [KeyAuthPolicy.challenge]) + (tokens ? [Self.bearerChallenge] : [])
                + (chain.basicAuth.map { [$0.challenge] } ?? [])
            self = .refused(
                message: message, challenges: challenges, reasons: reasons, sent: false, status: .unauthorized, failure: firstMissing.map { ($0, .missing) })
        }
    }
}
