/// The policy types, their phase in the request pipeline and their config rules.
public enum PolicyType: String, Sendable, CaseIterable {
    case cors
    case keyAuth = "key-auth"
    case jwt
    case oauth2Introspection = "oauth2-introspection"
    case basicAuth = "basic-auth"
    case rateLimit = "rate-limit"
    case quota
    case requestValidation = "request-validation"
    case acl
    case ipRestriction = "ip-restriction"
    case requestTransformer = "request-transformer"
    case responseTransformer = "response-transformer"

    /// Where in a request a policy of this type runs. Chains are ordered by phase, never by the
    /// order policies were created in.
    public var phase: PolicyPhase {
        switch self {
        case .cors: .preflight
        case .keyAuth, .jwt, .oauth2Introspection, .basicAuth: .authentication
        case .rateLimit, .quota: .rateLimit
        case .requestValidation: .validation
        case .acl: .authorization
        case .ipRestriction: .ipRestriction
        case .requestTransformer: .requestTransform
        case .responseTransformer: .responseTransform
        }
    }

    /// Whether this type identifies the caller (its policies are what an `acl` needs before it).
    public var authenticates: Bool { phase == .authentication }

    /// Whether a policy of this type can be scoped to a consumer: only limits, which run after
    /// authentication has identified one. What a request must look like is the route's, not
    /// the caller's.
    public var isConsumerScopable: Bool { phase == .rateLimit }

    /// Whether several enabled policies of this type may share one scope: limits stack (a rate
    /// per second and a quota per day, or two rates), each counting on its own, and a request
    /// must pass them all. Two CORS, authentication or validation policies would give one request
    /// two answers, so those stay one per scope.
    public var stacks: Bool { phase == .rateLimit }

    /// How many enabled policies of a stacking type one scope may hold.
    public static let maxStacked = 8

    /// Checks a config again (a data plane does, before building a policy from it).
    public func validate(_ config: JSONValue) throws(ConfigError) {
        _ = try normalize(config, path: "config")
    }

    /// Validates a config and returns it with every default filled in, so a config written with
    /// or without its defaults is the same value.
    func normalize(_ value: JSONValue, path: String) throws(ConfigError) -> JSONValue {
        var reader = try FieldReader(value, path: path)
        let result: [String: JSONValue]
        switch self {
        case .cors: result = try CORSConfigRules.normalize(&reader)
        case .keyAuth:
            let names = try reader.optionalStrings("key_names") ?? ["apikey"]
            guard !names.isEmpty else { throw .invalid("must name at least one header", field: reader.field("key_names")) }
            for (index, name) in names.enumerated() where !EntityName.isToken(name) {
                throw .invalid("'\(name)' is not a header name", field: "\(reader.field("key_names"))[\(index)]")
            }
            var fields: [String: JSONValue] = [
                "key_names": .array(names.map { .string($0.lowercased()) }),
                "hide_credentials": .bool(try reader.optionalBool("hide_credentials") ?? true),
                "anonymous": .null,
            ]
            if let anonymous = try reader.optionalString("anonymous") {
                try EntityName.validate(anonymous, field: reader.field("anonymous"))
                fields["anonymous"] = .string(anonymous)
            }
            result = fields
        case .jwt: result = try JWTConfigRules.normalize(&reader)
        case .oauth2Introspection: result = try IntrospectionConfigRules.normalize(&reader)
        case .basicAuth: result = try BasicAuthConfigRules.normalize(&reader)
        case .rateLimit: result = try RateLimitConfigRules.normalize(&reader)
        case .requestValidation: result = try RequestValidationConfigRules.normalize(&reader)
        case .acl: result = try ACLConfigRules.normalize(&reader)
        case .ipRestriction: result = try IPRestrictionConfigRules.normalize(&reader)
        case .requestTransformer: result = try TransformerConfigRules.normalize(&reader, request: true)
        case .responseTransformer: result = try TransformerConfigRules.normalize(&reader, request: false)
        case .quota:
            guard let limit = try reader.optionalInt("limit", in: 1...Int(Int32.max)) else { throw reader.missing("limit") }
            let period = try reader.string("period")
            guard ["day", "month"].contains(period) else { throw .invalid("must be day or month", field: reader.field("period")) }
            // A quota outlives restarts and is one count for every data plane: it lives in Redis.
            guard let redisURL = try reader.optionalString("redis_url") else {
                throw .invalid(
                    "is required: a quota is counted in Redis so it is shared by data planes and survives restarts", field: reader.field("redis_url"))
            }
            try RateLimitConfigRules.validateRedisURL(redisURL, field: reader.field("redis_url"))
            result = [
                "limit": .int(limit), "period": .string(period), "redis_url": .string(redisURL),
                "fail_open": .bool(try reader.optionalBool("fail_open") ?? true),
            ]
        }
        try reader.finish()
        return .object(result)
    }
}

/// The fixed order of the request pipeline.
public enum PolicyPhase: Int, Sendable, Comparable, CaseIterable {
    case preflight
    /// After preflights (a browser's preflight carries no credential and reveals only the CORS
    /// policy, so it is answered whoever asks), before authentication: a refused address costs
    /// no credential check.
    case ipRestriction
    case authentication
    case authorization
    /// Parameters checked when the head arrives; a JSON body once it has arrived, after limits.
    case validation
    case rateLimit
    case requestTransform
    case responseTransform
    case log

    public static func < (lhs: PolicyPhase, rhs: PolicyPhase) -> Bool { lhs.rawValue < rhs.rawValue }
}
