import GatehouseModel

/// The policies one route runs, compiled with its snapshot and in phase order: CORS preflight,
/// authentication, request validation, then rate limits and quotas (those of the identified
/// consumer where it has its own). Immutable; routes with the same policies share one chain. A route without any
/// policy has none, and pays nothing.
public final class PolicyChain: Sendable {
    let cors: CORSPolicy?
    let keyAuth: KeyAuthPolicy?
    let jwt: JWTPolicy?
    /// What the proxy drops from requests it forwards on this route (as its other dropped
    /// headers, in the same pass): the identity headers the gateway writes and, with
    /// `hide_credentials`, the credentials. For a peer that is not, and one that is a trusted proxy.
    private let droppedUntrusted: FieldNameSet
    private let droppedTrusted: FieldNameSet
    let validation: RequestValidationPolicy?
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
        cors: CORSPolicy?, keyAuth: KeyAuthPolicy?, jwt: JWTPolicy?, validation: RequestValidationPolicy?, limits: [LimitPolicy],
        consumerLimits: [String: [LimitPolicy]], described: [Step], consumerDescribed: [String: [Step]]
    ) {
        self.cors = cors
        self.keyAuth = keyAuth
        self.jwt = jwt
        let own = keyAuth == nil && jwt == nil ? [] : Array(Set(KeyAuthPolicy.identityHeaders + (keyAuth?.ownHeaders ?? []) + (jwt?.ownHeaders ?? [])))
        droppedUntrusted = ProxyHandler.replacedWithHost + own
        droppedTrusted = ProxyHandler.replacedWhenTrusted + own
        self.validation = validation
        self.limits = limits
        self.consumerLimits = consumerLimits
        self.described = described
        self.consumerDescribed = consumerDescribed
    }

    var authenticates: Bool { keyAuth != nil || jwt != nil }

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
