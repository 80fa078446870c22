import Atomics
import GatehouseModel
import NIOConcurrencyHelpers

/// Counters of what policies decided, for `/metrics`. Shared by every event loop of a data plane.
public final class PolicyMetrics: Sendable {
    let preflights = ManagedAtomic(0)
    /// Preflights from an origin the policy does not allow (answered without CORS headers).
    let preflightsRefused = ManagedAtomic(0)
    /// Each authentication policy's 401s, by type and name, in the order policies first compiled.
    private let authFailureRegistry = NIOLockedValueBox<(byName: [String: AuthFailures], all: [AuthFailures])>(([:], []))
    let rateLimited = ManagedAtomic(0)
    let quotaExceeded = ManagedAtomic(0)
    /// Requests a `request-validation` policy refused (400, 413, 415).
    let invalidRequests = ManagedAtomic(0)
    /// Redis commands that failed or timed out.
    let redisErrors = ManagedAtomic(0)
    /// Requests let through (fail open) or refused (fail closed) because Redis could not count them.
    let failedOpen = ManagedAtomic(0)
    let failedClosed = ManagedAtomic(0)
    /// Tokens the `jwt` and `oauth2-introspection` policies refused, by `TokenRefusal.allCases` index.
    let tokensRefused = TokenRefusal.allCases.map { _ in ManagedAtomic(0) }
    let introspectionRefused = TokenRefusal.allCases.map { _ in ManagedAtomic(0) }

    /// How an introspection policy found a token's answer (`gatehouse_introspection_cache_total`).
    enum CacheResult: Int, CaseIterable {
        case hit
        case miss
        /// The request waited on a call another request with the same token started.
        case coalesced
        /// The server could not be asked; the token's last good answer was used (`stale_if_error`).
        case stale
        /// Not cached here, but another data plane's answer was in Redis (`redis_url`).
        case shared

        var label: String {
            switch self {
            case .hit: "hit"
            case .miss: "miss"
            case .coalesced: "coalesced"
            case .stale: "stale"
            case .shared: "shared"
            }
        }
    }

    /// How calls to authorization servers ended (`gatehouse_introspection_calls_total`).
    enum CallResult: Int, CaseIterable {
        case active
        case inactive
        case failed
        case timedOut

        var label: String {
            switch self {
            case .active: "active"
            case .inactive: "inactive"
            case .failed: "failed"
            case .timedOut: "timeout"
            }
        }
    }

    private let introspectionCacheCounts = CacheResult.allCases.map { _ in ManagedAtomic(0) }
    private let introspectionCallCounts = CallResult.allCases.map { _ in ManagedAtomic(0) }

    func introspectionCache(_ result: CacheResult) {
        introspectionCacheCounts[result.rawValue].wrappingIncrement(ordering: .relaxed)
    }

    func introspectionCall(_ result: CallResult) {
        introspectionCallCounts[result.rawValue].wrappingIncrement(ordering: .relaxed)
    }

    func count(_ result: CacheResult) -> Int { introspectionCacheCounts[result.rawValue].load(ordering: .relaxed) }
    func count(_ result: CallResult) -> Int { introspectionCallCounts[result.rawValue].load(ordering: .relaxed) }
    /// Tokens found in a policy's cache, and those verified because they were not.
    let tokenCacheHits = ManagedAtomic(0)
    let tokenCacheMisses = ManagedAtomic(0)

    /// Decisions of the access and transform policies, by type and reason
    /// (`gatehouse_policy_decisions_total{type,reason}`): one counter per pair, so counting is
    /// one relaxed increment.
    public enum Reason: Int, CaseIterable, Sendable {
        case allowed
        case noConsumer
        case groupNotAllowed
        case groupDenied
        case addressDenied
        case addressNotAllowed
        case addressUnreadable
        case applied
        /// A transform value whose variable has no value for the request (no consumer, say).
        case valueMissing
        /// A transform value that would hold CR, LF, NUL or another control character.
        case valueRefused
        /// basic-auth: a pair checked good within `cache_ttl` (no derivation).
        case remembered
        case wrongPassword
        case malformed
        /// basic-auth: the client failed too often this minute (429, no derivation).
        case throttled
        /// basic-auth: too many password checks wait (503).
        case busy

        var label: String {
            switch self {
            case .allowed: "allowed"
            case .noConsumer: "no_consumer"
            case .groupNotAllowed: "group_not_allowed"
            case .groupDenied: "group_denied"
            case .addressDenied: "address_denied"
            case .addressNotAllowed: "address_not_allowed"
            case .addressUnreadable: "address_unreadable"
            case .applied: "applied"
            case .valueMissing: "value_missing"
            case .valueRefused: "value_refused"
            case .remembered: "remembered"
            case .wrongPassword: "wrong_password"
            case .malformed: "malformed"
            case .throttled: "throttled"
            case .busy: "busy"
            }
        }
    }

    static let decisionTypes: [PolicyType] = [.ipRestriction, .acl, .requestTransformer, .responseTransformer, .basicAuth]
    /// The pairs that can happen, in the order `/metrics` lists them.
    static let decisionPairs: [(PolicyType, Reason)] = [
        (.ipRestriction, .allowed), (.ipRestriction, .addressDenied), (.ipRestriction, .addressNotAllowed), (.ipRestriction, .addressUnreadable),
        (.acl, .allowed), (.acl, .noConsumer), (.acl, .groupNotAllowed), (.acl, .groupDenied),
        (.requestTransformer, .applied), (.requestTransformer, .valueMissing), (.requestTransformer, .valueRefused),
        (.responseTransformer, .applied), (.responseTransformer, .valueMissing), (.responseTransformer, .valueRefused),
        (.basicAuth, .allowed), (.basicAuth, .remembered), (.basicAuth, .wrongPassword), (.basicAuth, .malformed), (.basicAuth, .throttled),
        (.basicAuth, .busy),
    ]
    private let decisions = (0..<(decisionTypes.count * Reason.allCases.count)).map { _ in ManagedAtomic(0) }

    func count(_ type: PolicyType, _ reason: Reason) {
        guard let index = Self.decisionTypes.firstIndex(of: type) else { return }
        decisions[index * Reason.allCases.count + reason.rawValue].wrappingIncrement(ordering: .relaxed)
    }

    func decisions(_ type: PolicyType, _ reason: Reason) -> Int {
        guard let index = Self.decisionTypes.firstIndex(of: type) else { return 0 }
        return decisions[index * Reason.allCases.count + reason.rawValue].load(ordering: .relaxed)
    }

    public init() {}

    /// The 401 counters of the authentication policy `name` of `type`; called when a snapshot compiles.
    func authFailures(_ name: String, _ type: PolicyType) -> AuthFailures {
        authFailureRegistry.withLockedValue { registry in
            let key = type.rawValue + "\u{0}" + name
            if let counters = registry.byName[key] { return counters }
            let counters = AuthFailures(policy: name, type: type)
            registry.byName[key] = counters
            registry.all.append(counters)
            return counters
        }
    }

    func refused(_ refusal: TokenRefusal, by type: PolicyType) {
        (type == .jwt ? tokensRefused : introspectionRefused)[TokenRefusal.allCases.firstIndex(of: refusal)!]
            .wrappingIncrement(ordering: .relaxed)
    }

    /// The reasons each token policy can refuse for, in the order `/metrics` lists them.
    static let jwtReasons = TokenRefusal.allCases.filter { ![.inactive, .unavailable, .busy].contains($0) }
    static let introspectionReasons: [TokenRefusal] = [
        .tooLarge, .inactive, .notYetValid, .wrongAudience, .missingScope, .noConsumer, .unavailable, .busy,
    ]

    /// The Prometheus text of these counters.
    public var prometheusText: String {
        func counter(_ name: String, _ help: String, _ value: ManagedAtomic<Int>, labels: String = "") -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name)\(labels) \(value.load(ordering: .relaxed))\n"
        }
        return counter("gatehouse_cors_preflights_total", "CORS preflights the gateway answered.", preflights)
            + counter(
                "gatehouse_cors_preflights_refused_total", "CORS preflights from an origin the route's policy does not allow (answered without CORS headers).",
                preflightsRefused)
            + "# HELP gatehouse_auth_failures_total Requests refused with 401 for a missing or wrong credential, by the policy that refused and why.\n"
            + "# TYPE gatehouse_auth_failures_total counter\n"
            + authFailureRegistry.withLockedValue(\.all).map { counters in
                AuthFailure.reasons(counters.type).map { reason in
                    "gatehouse_auth_failures_total{policy=\"\(PrometheusText.escaped(counters.policy))\",type=\"\(counters.type.rawValue)\",reason=\"\(reason.label)\"} \(counters.value(reason))\n"
                }.joined()
            }.joined()
            + counter("gatehouse_rate_limited_total", "Requests refused with 429 by a rate limit.", rateLimited)
            + counter("gatehouse_quota_exceeded_total", "Requests refused with 429 by a quota.", quotaExceeded)
            + counter("gatehouse_invalid_requests_total", "Requests refused by a request-validation policy.", invalidRequests)
            + counter("gatehouse_redis_errors_total", "Redis commands of rate limits and quotas that failed or timed out.", redisErrors)
            + "# HELP gatehouse_limit_unavailable_total Requests a rate limit or quota could not count (Redis unreachable), by what was done.\n"
            + "# TYPE gatehouse_limit_unavailable_total counter\n"
            + "gatehouse_limit_unavailable_total{outcome=\"fail_open\"} \(failedOpen.load(ordering: .relaxed))\n"
            + "gatehouse_limit_unavailable_total{outcome=\"fail_closed\"} \(failedClosed.load(ordering: .relaxed))\n"
            + "# HELP gatehouse_jwt_refused_total Tokens a jwt policy refused, by reason.\n# TYPE gatehouse_jwt_refused_total counter\n"
            + Self.jwtReasons.map { reason in
                "gatehouse_jwt_refused_total{reason=\"\(reason.reason)\"} \(tokensRefused[TokenRefusal.allCases.firstIndex(of: reason)!].load(ordering: .relaxed))\n"
            }.joined()
            + "# HELP gatehouse_introspection_refused_total Tokens an oauth2-introspection policy refused (401) or could not check (503), by reason.\n"
            + "# TYPE gatehouse_introspection_refused_total counter\n"
            + Self.introspectionReasons.map { reason in
                "gatehouse_introspection_refused_total{reason=\"\(reason.reason)\"} \(introspectionRefused[TokenRefusal.allCases.firstIndex(of: reason)!].load(ordering: .relaxed))\n"
            }.joined()
            + "# HELP gatehouse_introspection_cache_total How oauth2-introspection policies found a token's answer, by result.\n"
            + "# TYPE gatehouse_introspection_cache_total counter\n"
            + CacheResult.allCases.map { "gatehouse_introspection_cache_total{result=\"\($0.label)\"} \(count($0))\n" }.joined()
            + "# HELP gatehouse_introspection_calls_total Calls to authorization servers' introspection endpoints, by how they ended.\n"
            + "# TYPE gatehouse_introspection_calls_total counter\n"
            + CallResult.allCases.map { "gatehouse_introspection_calls_total{result=\"\($0.label)\"} \(count($0))\n" }.joined()
            + "# HELP gatehouse_token_cache_total Token lookups in the verified-token caches, by result.\n"
            + "# TYPE gatehouse_token_cache_total counter\n"
            + "gatehouse_token_cache_total{result=\"hit\"} \(tokenCacheHits.load(ordering: .relaxed))\n"
            + "gatehouse_token_cache_total{result=\"miss\"} \(tokenCacheMisses.load(ordering: .relaxed))\n"
            + "# HELP gatehouse_policy_decisions_total What ip-restriction, acl, transformer and basic-auth policies decided, by type and reason.\n"
            + "# TYPE gatehouse_policy_decisions_total counter\n"
            + Self.decisionPairs.map { type, reason in
                "gatehouse_policy_decisions_total{type=\"\(type.rawValue)\",reason=\"\(reason.label)\"} \(decisions(type, reason))\n"
            }.joined()
    }
}
