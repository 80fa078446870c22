import GatehouseModel

/// The policies one route runs, compiled with its snapshot and in phase order: CORS preflight,
/// IP restriction, authentication, authorization (acl), request validation, then rate limits
/// and quotas (those of the identified consumer where it has its own), request transforms, and
/// response transforms on the upstream's answer. Immutable; routes with the same policies share
/// one chain. A route without any policy has none, and pays nothing.
public final class PolicyChain: Sendable {
    let cors: CORSPolicy?
    let ipRestriction: IPRestrictionPolicy?
    let keyAuth: KeyAuthPolicy?
    let jwt: JWTPolicy?
    let introspection: IntrospectionPolicy?
    let basicAuth: BasicAuthPolicy?
    let acl: ACLPolicy?
    let validation: RequestValidationPolicy?
    let requestTransform: RequestTransformPolicy?
    let responseTransform: ResponseTransformPolicy?
    /// What the proxy leaves out of the client's fields on this route, beyond hop-by-hop ones:
    /// the forwarding fields it replaces (all of them for a peer that is not a trusted proxy),
    /// the client's identity headers and hidden keys, the fields a request transform replaces.
    /// Built once here, so the copy is one pass with one set.
    private let droppedUntrusted: FieldNameSet
    private let droppedTrusted: FieldNameSet
    /// The key headers key-auth hides from the upstream (none without `hide_credentials`).
    let hiddenKeys: [String]
    /// For requests without a consumer, or whose consumer has no policies of its own here.
    let limits: [LimitPolicy]
    /// Consumer id → its limits, for consumers with policies scoped to them.
    let consumerLimits: [String: [LimitPolicy]]
    /// Every policy that can run, in order, for `explain`: phase, type, name, scope.
    public let described: [Step]
    let consumerDescribed: [String: [Step]]

    public struct Step: Sendable {
        public let phase: PolicyPhase
        public let type: PolicyType
        public let name: String
        public let scope: String
    }

    init(
        cors: CORSPolicy?, ipRestriction: IPRestrictionPolicy?, keyAuth: KeyAuthPolicy?, jwt: JWTPolicy?, introspection: IntrospectionPolicy?,
        basicAuth: BasicAuthPolicy?, acl: ACLPolicy?,
        validation: RequestValidationPolicy?, limits: [LimitPolicy], consumerLimits: [String: [LimitPolicy]],
        requestTransform: RequestTransformPolicy?, responseTransform: ResponseTransformPolicy?, described: [Step],
        consumerDescribed: [String: [Step]]
    ) {
        self.cors = cors
        self.ipRestriction = ipRestriction
        self.keyAuth = keyAuth
        self.jwt = jwt
        self.introspection = introspection
        self.basicAuth = basicAuth
        self.acl = acl
        self.validation = validation
        self.requestTransform = requestTransform
        self.responseTransform = responseTransform
        let identity = keyAuth == nil && jwt == nil && introspection == nil && basicAuth == nil ? [] : KeyAuthPolicy.identityHeaders
        let basicHidden = basicAuth?.hideCredentials == true ? ["authorization"] : []
        let own = Array(
            Set(
                identity + (keyAuth?.ownHeaders ?? []) + (jwt?.ownHeaders ?? []) + (introspection?.ownHeaders ?? []) + basicHidden
                    + (acl != nil ? [ACLPolicy.groupsHeader] : [])
                    + (requestTransform?.headers.replaced ?? [])))
        droppedUntrusted = ProxyHandler.replacedWithHost + own
        droppedTrusted = ProxyHandler.replacedWhenTrusted + own
        hiddenKeys =
            (keyAuth?.ownHeaders ?? []) + (jwt.map { $0.hideCredentials ? [$0.location.header] : [] } ?? [])
            + (introspection.map { $0.hideCredentials ? [$0.location.header] : [] } ?? []) + basicHidden
        self.limits = limits
        self.consumerLimits = consumerLimits
        self.described = described
        self.consumerDescribed = consumerDescribed
    }

    var authenticates: Bool { keyAuth != nil || jwt != nil || introspection != nil || basicAuth != nil }

    func dropped(trusted: Bool) -> FieldNameSet { trusted ? droppedTrusted : droppedUntrusted }

    func limits(for consumer: CompiledConsumer?) -> [LimitPolicy] {
        guard let consumer, !consumerLimits.isEmpty else { return limits }
        return consumerLimits[consumer.id] ?? limits
    }

    /// The steps that run for a request of `consumer` (an id), for `explain`.
    public func steps(forConsumer consumer: String?) -> [Step] {
        consumer.flatMap { consumerDescribed[$0] } ?? described
    }
}
