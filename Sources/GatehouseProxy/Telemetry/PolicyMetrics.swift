import Atomics

/// Counters of what policies decided, for `/metrics`. Shared by every event loop of a data plane.
public final class PolicyMetrics: Sendable {
    let preflights = ManagedAtomic(0)
    let authenticationFailures = ManagedAtomic(0)
    let rateLimited = ManagedAtomic(0)
    let quotaExceeded = ManagedAtomic(0)
    /// Requests a `request-validation` policy refused (400, 413, 415).
    let invalidRequests = ManagedAtomic(0)
    /// Redis commands that failed or timed out.
    let redisErrors = ManagedAtomic(0)
    /// Requests let through (fail open) or refused (fail closed) because Redis could not count them.
    let failedOpen = ManagedAtomic(0)
    let failedClosed = ManagedAtomic(0)
    /// Tokens a `jwt` policy refused, by `JWTRefusal.allCases` index.
    let tokensRefused = JWTRefusal.allCases.map { _ in ManagedAtomic(0) }
    /// Tokens found in a policy's cache, and those verified because they were not.
    let tokenCacheHits = ManagedAtomic(0)
    let tokenCacheMisses = ManagedAtomic(0)

    public init() {}

    func refused(_ refusal: JWTRefusal) {
        tokensRefused[JWTRefusal.allCases.firstIndex(of: refusal)!].wrappingIncrement(ordering: .relaxed)
    }

    /// The Prometheus text of these counters.
    public var prometheusText: String {
        func counter(_ name: String, _ help: String, _ value: ManagedAtomic<Int>, labels: String = "") -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name)\(labels) \(value.load(ordering: .relaxed))\n"
        }
        return counter("gatehouse_cors_preflights_total", "CORS preflights the gateway answered.", preflights)
            + counter("gatehouse_auth_failures_total", "Requests refused with 401 for a missing or wrong credential.", authenticationFailures)
            + counter("gatehouse_rate_limited_total", "Requests refused with 429 by a rate limit.", rateLimited)
            + counter("gatehouse_quota_exceeded_total", "Requests refused with 429 by a quota.", quotaExceeded)
            + counter("gatehouse_invalid_requests_total", "Requests refused by a request-validation policy.", invalidRequests)
            + counter("gatehouse_redis_errors_total", "Redis commands of rate limits and quotas that failed or timed out.", redisErrors)
            + "# HELP gatehouse_limit_unavailable_total Requests a rate limit or quota could not count (Redis unreachable), by what was done.\n"
            + "# TYPE gatehouse_limit_unavailable_total counter\n"
            + "gatehouse_limit_unavailable_total{outcome=\"fail_open\"} \(failedOpen.load(ordering: .relaxed))\n"
            + "gatehouse_limit_unavailable_total{outcome=\"fail_closed\"} \(failedClosed.load(ordering: .relaxed))\n"
            + "# HELP gatehouse_jwt_refused_total Tokens a jwt policy refused, by reason.\n# TYPE gatehouse_jwt_refused_total counter\n"
            + zip(JWTRefusal.allCases, tokensRefused).map { "gatehouse_jwt_refused_total{reason=\"\($0.reason)\"} \($1.load(ordering: .relaxed))\n" }
            .joined()
            + "# HELP gatehouse_token_cache_total Token lookups in the verified-token caches, by result.\n"
            + "# TYPE gatehouse_token_cache_total counter\n"
            + "gatehouse_token_cache_total{result=\"hit\"} \(tokenCacheHits.load(ordering: .relaxed))\n"
            + "gatehouse_token_cache_total{result=\"miss\"} \(tokenCacheMisses.load(ordering: .relaxed))\n"
    }
}
