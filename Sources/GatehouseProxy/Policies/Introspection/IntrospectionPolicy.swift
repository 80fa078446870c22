import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// An `oauth2-introspection` policy compiled: where the token is read from, the claims an active
/// token must carry, and the `IntrospectionEndpoint` that asks the authorization server (and
/// keeps its answers). A cached answer decides at once; an uncached token is asked about
/// (`ask`), and the request waits off the event loop's back for the answer. Immutable.
final class IntrospectionPolicy: Sendable {
    let name: String
    let location: TokenLocation
    let claimRules: ClaimRules
    let hideCredentials: Bool
    let anonymous: CompiledConsumer?
    let consumers: ConsumerDirectory
    let endpoint: IntrospectionEndpoint
    let metrics: PolicyMetrics
    let failures: AuthFailures
    /// Headers the client may not send on a route this policy guards: those the gateway writes.
    let ownHeaders: [String]

    init(name: String, config: JSONValue, consumers: ConsumerDirectory, endpoint: IntrospectionEndpoint, metrics: PolicyMetrics) {
        self.name = name
        location = TokenLocation(config)
        claimRules = ClaimRules(config)
        hideCredentials = config["hide_credentials"]?.boolValue ?? true
        anonymous = config["anonymous"]?.stringValue.flatMap { consumers.byName[$0] }
        self.consumers = consumers
        self.endpoint = endpoint
        self.metrics = metrics
        failures = metrics.authFailures(name, .oauth2Introspection)
        ownHeaders = claimRules.ownHeaders + (hideCredentials ? [location.header] : [])
    }

    /// How an active token's claims are judged: the policy's audience and scope rules. Given to
    /// the endpoint, which caches the verdict.
    static func judge(_ rules: ClaimRules) -> IntrospectionEndpoint.Judge {
        { claims in
            do throws(TokenRefusal) {
                return .accepted(try rules.check(claims))
            } catch {
                return .refused(error)
            }
        }
    }

    enum Outcome {
        case verified(VerifiedClaims, consumer: CompiledConsumer?)
        case missing
        case refused(TokenRefusal)
        /// No fresh answer is cached for the token: the authorization server must be asked.
        case ask(Substring, ConsumerDirectory.Digest)
    }

    /// - Parameter recording: false for `explain`: nothing is counted.
    func authenticate(headers: RequestFields, query: Substring?, recording: Bool = true) -> Outcome {
        guard let token = location.find(headers: headers, query: query) else { return .missing }
        guard token.utf8.count <= location.maxTokenBytes else { return .refused(.tooLarge) }
        let key = TokenCache.key(token)
        guard let verdict = endpoint.cached(key) else { return .ask(token, key) }
        if recording { metrics.introspectionCache(.hit) }
        return outcome(verdict)
    }

    /// What the server's answer (or its absence) means for this request.
    func outcome(_ verdict: IntrospectionEndpoint.Verdict) -> Outcome {
        switch verdict {
        case .refused(let refusal): return .refused(refusal)
        case .accepted(let claims):
            switch claimRules.consumer(of: claims, in: consumers) {
            case .success(let consumer): return .verified(claims, consumer: consumer)
            case .failure(let refusal): return .refused(refusal)
            }
        }
    }
}
