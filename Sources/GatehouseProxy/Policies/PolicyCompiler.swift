import Crypto
import GatehouseModel

/// Builds the policy chain of every route of a snapshot. For each policy type the most specific
/// enabled policy wins: route and consumer > consumer > route > global (as Kong orders plugin
/// scopes); of the types that stack (limits), every policy of the most specific scope, by name.
/// A policy that cannot be built fails the whole snapshot.
struct PolicyCompiler {
    private let policies: [Policy]
    private let byRoute: [String: [Policy]]
    private let global: [Policy]
    private let consumers: ConsumerDirectory
    private let state: PolicyState
    private var built: [String: Built] = [:]
    private var shared: PolicyChain??

    private enum Built {
        case cors(CORSPolicy)
        case keyAuth(KeyAuthPolicy)
        case jwt(JWTPolicy)
        case introspection(IntrospectionPolicy)
        case basicAuth(BasicAuthPolicy)
        case limit(LimitPolicy)
        case validation(RequestValidationPolicy)
        case ipRestriction(IPRestrictionPolicy)
        case acl(ACLPolicy)
        case requestTransform(RequestTransformPolicy)
        case responseTransform(ResponseTransformPolicy)
    }

    init(_ document: ConfigDocument, state: PolicyState, meters: RequestMetrics) {
        policies = document.policies.filter(\.enabled)
        byRoute = Dictionary(grouping: policies.filter { $0.route != nil }, by: { $0.route! })
        global = policies.filter { $0.route == nil }
        consumers = ConsumerDirectory(policies.isEmpty ? [] : document.consumers, meters: meters)
        self.state = state
    }

    /// The chain of the route named `route`, or nil when no policy applies to it.
    mutating func chain(forRoute route: String) throws(ConfigCompiler.Rejection) -> PolicyChain? {
        if policies.isEmpty { return nil }
        guard let own = byRoute[route] else {
            // Routes with no policies of their own share the chain of the global ones.
            if let shared { return shared }
            let chain = try build(global)
            shared = .some(chain)
            return chain
        }
        return try build(global + own)
    }

    private mutating func build(_ candidates: [Policy]) throws(ConfigCompiler.Rejection) -> PolicyChain? {
        guard !candidates.isEmpty else { return nil }
        func pickAll(_ type: PolicyType, consumer: String?) -> [Policy] {
            let applying = candidates.filter { $0.type == type && ($0.consumer == nil || $0.consumer == consumer) }
            guard let most = applying.map(specificity).max() else { return [] }
            return applying.filter { specificity($0) == most }.sorted { $0.name < $1.name }
        }
        func pick(_ type: PolicyType, consumer: String?) -> Policy? { pickAll(type, consumer: consumer).first }
        // CORS and authentication run before a consumer is known: never consumer-scoped.
        let corsSource = pick(.cors, consumer: nil)
        let keyAuthSource = pick(.keyAuth, consumer: nil)
        let cors = try corsSource.map { policy throws(ConfigCompiler.Rejection) in try corsPolicy(policy) }
        let keyAuth = try keyAuthSource.map { policy throws(ConfigCompiler.Rejection) in try keyAuthPolicy(policy) }
        let jwtSource = pick(.jwt, consumer: nil)
        let jwt = try jwtSource.map { policy throws(ConfigCompiler.Rejection) in try jwtPolicy(policy) }
        let introspectionSource = pick(.oauth2Introspection, consumer: nil)
        let introspection = try introspectionSource.map { policy throws(ConfigCompiler.Rejection) in try introspectionPolicy(policy) }
        let basicAuthSource = pick(.basicAuth, consumer: nil)
        let basicAuth = try basicAuthSource.map { policy throws(ConfigCompiler.Rejection) in try basicAuthPolicy(policy) }
        let validationSource = pick(.requestValidation, consumer: nil)
        let validation = try validationSource.map { policy throws(ConfigCompiler.Rejection) in try validationPolicy(policy) }
        let ipSource = pick(.ipRestriction, consumer: nil)
        let aclSource = pick(.acl, consumer: nil)
        let requestTransformSource = pick(.requestTransformer, consumer: nil)
        let responseTransformSource = pick(.responseTransformer, consumer: nil)
        // Fail closed: an acl with nobody identified before it could only refuse everyone or no one.
        if let aclSource, keyAuthSource == nil, jwtSource == nil, introspectionSource == nil, basicAuthSource == nil {
            throw ConfigCompiler.Rejection(description: "policy '\(aclSource.name)' (acl) runs on a route without an authentication policy")
        }
        let ipRestriction = ipSource.map { policy in
            simple(policy, { if case .ipRestriction(let built) = $0 { built } else { nil } }, Built.ipRestriction) {
                IPRestrictionPolicy(name: policy.name, config: policy.config)
            }
        }
        let acl = aclSource.map { policy in
            simple(policy, { if case .acl(let built) = $0 { built } else { nil } }, Built.acl) { ACLPolicy(name: policy.name, config: policy.config) }
        }
        let requestTransform = requestTransformSource.map { policy in
            simple(policy, { if case .requestTransform(let built) = $0 { built } else { nil } }, Built.requestTransform) {
                RequestTransformPolicy(name: policy.name, config: policy.config)
            }
        }
        let responseTransform = responseTransformSource.map { policy in
            simple(policy, { if case .responseTransform(let built) = $0 { built } else { nil } }, Built.responseTransform) {
                ResponseTransformPolicy(name: policy.name, config: policy.config)
            }
        }
        let beforeLimits = [corsSource, ipSource, keyAuthSource, jwtSource, basicAuthSource, introspectionSource, aclSource, validationSource].compactMap { $0 }
        let afterLimits = [requestTransformSource, responseTransformSource].compactMap { $0 }
        let limitTypes = PolicyType.allCases.filter(\.isConsumerScopable).sorted { $0.phase < $1.phase }
        func limitPolicies(consumer: String?) -> [Policy] { limitTypes.flatMap { pickAll($0, consumer: consumer) } }

        let defaultPolicies = limitPolicies(consumer: nil)
        var consumerLimits: [String: [LimitPolicy]] = [:]
        var consumerDescribed: [String: [Step]] = [:]
        for name in Set(candidates.compactMap(\.consumer)).sorted() {
            let own = limitPolicies(consumer: name)
            guard own.map(\.id) != defaultPolicies.map(\.id), let consumer = consumers.byName[name] else { continue }
            consumerLimits[consumer.id] = try own.map { policy throws(ConfigCompiler.Rejection) in try limitPolicy(policy) }
            consumerDescribed[consumer.id] = (beforeLimits + own + afterLimits).map(Self.step)
        }
        let limits = try defaultPolicies.map { policy throws(ConfigCompiler.Rejection) in try limitPolicy(policy) }
        if beforeLimits.isEmpty, afterLimits.isEmpty, limits.isEmpty, consumerLimits.isEmpty { return nil }
        return PolicyChain(
            cors: cors, ipRestriction: ipRestriction, keyAuth: keyAuth, jwt: jwt, introspection: introspection, basicAuth: basicAuth,
            acl: acl, validation: validation, limits: limits,
            consumerLimits: consumerLimits, requestTransform: requestTransform, responseTransform: responseTransform,
            described: (beforeLimits + defaultPolicies + afterLimits).map(Self.step), consumerDescribed: consumerDescribed)
    }

    /// A policy built from its config alone, once per snapshot whatever the number of routes.
    private mutating func simple<T>(_ policy: Policy, _ existing: (Built) -> T?, _ wrap: (T) -> Built, _ make: () -> T) -> T {
        if let built = built[policy.id], let found = existing(built) { return found }
        let compiled = make()
        built[policy.id] = wrap(compiled)
        return compiled
    }

    typealias Step = PolicyChain.Step

    private static func step(_ policy: Policy) -> Step {
        Step(phase: policy.type.phase, type: policy.type, name: policy.name, scope: policy.scopeDescription)
    }

    private func specificity(_ policy: Policy) -> Int {
        switch (policy.route != nil, policy.consumer != nil) {
        case (true, true): 3
        case (false, true): 2
        case (true, false): 1
        case (false, false): 0
        }
    }

    private mutating func corsPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> CORSPolicy {
        if case .cors(let built)? = built[policy.id] { return built }
        let compiled = CORSPolicy(name: policy.name, config: policy.config)
        built[policy.id] = .cors(compiled)
        return compiled
    }

    private mutating func keyAuthPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> KeyAuthPolicy {
        if case .keyAuth(let built)? = built[policy.id] { return built }
        let compiled = KeyAuthPolicy(
            name: policy.name, config: policy.config, consumers: consumers, failures: state.metrics.authFailures(policy.name, .keyAuth))
        if let anonymous = policy.config["anonymous"]?.stringValue, compiled.anonymous == nil {
            throw ConfigCompiler.Rejection(description: "policy '\(policy.name)': anonymous consumer '\(anonymous)' does not exist")
        }
        built[policy.id] = .keyAuth(compiled)
        return compiled
    }

    private mutating func jwtPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> JWTPolicy {
        if case .jwt(let built)? = built[policy.id] { return built }
        if let anonymous = policy.config["anonymous"]?.stringValue, consumers.byName[anonymous] == nil {
            throw ConfigCompiler.Rejection(description: "policy '\(policy.name)': anonymous consumer '\(anonymous)' does not exist")
        }
        // Verified tokens outlive a snapshot that keeps the policy as it is.
        let identity = "\(policy.id):\(Self.hash(policy.config).prefix(16))"
        let compiled: JWTPolicy
        do {
            compiled = try JWTPolicy(
                name: policy.name, config: policy.config, consumers: consumers,
                cache: state.tokenCache(identity, capacity: policy.config["cache_size"]?.intValue ?? 10_000),
                jwks: policy.config["jwks_uri"]?.stringValue == nil ? nil : state.jwksSource(JWKSSource.Settings(policy.config)),
                metrics: state.metrics,
                now: state.now)
        } catch {
            throw ConfigCompiler.Rejection(description: "policy '\(policy.name)' cannot be built: \(error.description)")
        }
        built[policy.id] = .jwt(compiled)
        return compiled
    }

    private mutating func introspectionPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> IntrospectionPolicy {
        if case .introspection(let built)? = built[policy.id] { return built }
        if let anonymous = policy.config["anonymous"]?.stringValue, consumers.byName[anonymous] == nil {
            throw ConfigCompiler.Rejection(description: "policy '\(policy.name)': anonymous consumer '\(anonymous)' does not exist")
        }
        // Answers, calls in flight and the breaker outlive a snapshot that keeps the policy as it is.
        let redis = try policy.config["redis_url"]?.stringValue.map { url throws(ConfigCompiler.Rejection) in
            guard let address = RedisAddress(url) else {
                throw ConfigCompiler.Rejection(description: "policy '\(policy.name)' cannot be built: '\(url)' is not a Redis URL")
            }
            return address
        }
        let endpoint = state.introspectionEndpoint(
            "\(policy.id):\(Self.hash(policy.config).prefix(16))", settings: IntrospectionEndpoint.Settings(policy: policy.name, config: policy.config),
            redis: redis, judge: IntrospectionPolicy.judge(ClaimRules(policy.config)))
        let compiled = IntrospectionPolicy(name: policy.name, config: policy.config, consumers: consumers, endpoint: endpoint, metrics: state.metrics)
        built[policy.id] = .introspection(compiled)
        return compiled
    }

    private mutating func basicAuthPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> BasicAuthPolicy {
        if case .basicAuth(let built)? = built[policy.id] { return built }
        if let anonymous = policy.config["anonymous"]?.stringValue, consumers.byName[anonymous] == nil {
            throw ConfigCompiler.Rejection(description: "policy '\(policy.name)': anonymous consumer '\(anonymous)' does not exist")
        }
        let checker = state.passwordChecker("\(policy.id):\(Self.hash(policy.config).prefix(16))", config: policy.config)
        let compiled = BasicAuthPolicy(
            name: policy.name, config: policy.config, consumers: consumers, checker: checker,
            failures: state.metrics.authFailures(policy.name, .basicAuth))
        built[policy.id] = .basicAuth(compiled)
        return compiled
    }

    private mutating func validationPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> RequestValidationPolicy {
        if case .validation(let built)? = built[policy.id] { return built }
        let compiled: RequestValidationPolicy
        do {
            compiled = try RequestValidationPolicy(name: policy.name, config: policy.config)
        } catch {
            throw ConfigCompiler.Rejection(description: "policy '\(policy.name)' cannot be built: \(error.message)")
        }
        built[policy.id] = .validation(compiled)
        return compiled
    }

    private mutating func limitPolicy(_ policy: Policy) throws(ConfigCompiler.Rejection) -> LimitPolicy {
        if case .limit(let built)? = built[policy.id] { return built }
        let config = policy.config
        func fail(_ why: String) -> ConfigCompiler.Rejection {
            ConfigCompiler.Rejection(description: "policy '\(policy.name)' cannot be built: \(why)")
        }
        guard let limit = config["limit"]?.intValue else { throw fail("no limit") }
        let failOpen = config["fail_open"]?.boolValue ?? true
        let redis = config["redis_url"]?.stringValue
        let compiled: LimitPolicy
        switch policy.type {
        case .rateLimit:
            guard let window = config["window"]?.stringValue.flatMap(Duration.init(configText:)) else { throw fail("no window") }
            let by: LimitPolicy.CountedBy =
                switch config["by"]?.stringValue {
                case "ip": .ip
                case "route": .route
                case "header": .header(config["header_name"]?.stringValue ?? "")
                default: .consumer
                }
            // Counts belong to this policy as configured: a changed config starts afresh.
            let identity = "\(policy.id):\(Self.hash(config).prefix(16))"
            let counter: LimitPolicy.Counter
            if let redis {
                guard let address = RedisAddress(redis) else { throw fail("'\(redis)' is not a Redis URL") }
                counter = .redis(state.redisClient(address))
            } else {
                counter = .local(state.localCounters(identity))
            }
            compiled = LimitPolicy(
                name: policy.name, kind: .rateLimit(window: window.milliseconds), limit: limit, by: by, counter: counter, failOpen: failOpen,
                identity: identity, now: state.now)
        case .quota:
            guard let redis, let address = RedisAddress(redis) else { throw fail("a quota needs redis_url") }
            // A quota's usage stays with the policy when its limit changes.
            compiled = LimitPolicy(
                name: policy.name, kind: .quota(monthly: config["period"]?.stringValue == "month"), limit: limit, by: .consumer,
                counter: .redis(state.redisClient(address)), failOpen: failOpen, identity: policy.id,
                now: state.now)
        case .cors, .keyAuth, .jwt, .oauth2Introspection, .basicAuth, .requestValidation, .acl, .ipRestriction, .requestTransformer, .responseTransformer:
            throw fail("\(policy.type.rawValue) is not a limit")
        }
        built[policy.id] = .limit(compiled)
        return compiled
    }

    private static func hash(_ config: JSONValue) -> String {
        SHA256.hash(data: config.canonicalBytes).map { String($0, radix: 16) }.joined()
    }
}
