import Atomics
import Foundation
import GatehouseModel
import GatehouseRedis
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What policies keep outside snapshots, for the life of a data plane: local rate-limit counts
/// (by policy id and config hash, so an unchanged policy keeps them across swaps), Redis clients
/// (by address) and the metrics. Thread-safe.
public final class PolicyState: Sendable {
    public let metrics = PolicyMetrics()
    let logger: Logger
    /// Wall-clock milliseconds since the Unix epoch: windows line up across data planes.
    let now: @Sendable () -> Int64
    private let local = NIOLockedValueBox<[String: WeakCounters]>([:])
    private let redis = NIOLockedValueBox<[RedisAddress: RedisClient]>([:])
    private let tokens = NIOLockedValueBox<[String: WeakTokenCache]>([:])

    private struct WeakTokenCache {
        weak var cache: TokenCache?
    }

    private let keySets = NIOLockedValueBox<[JWKSSource.Settings: WeakKeySet]>([:])

    private struct WeakKeySet {
        weak var source: JWKSSource?
    }

    /// The published keys of `settings.url`, fetched in the background while a served config
    /// holds a policy naming them.
    func jwksSource(_ settings: JWKSSource.Settings) -> JWKSSource {
        keySets.withLockedValue { sets in
            if let existing = sets[settings]?.source { return existing }
            sets = sets.filter { $0.value.source != nil }
            let created = JWKSSource(settings, logger: logger, fetching: fetchesKeys)
            sets[settings] = WeakKeySet(source: created)
            return created
        }
    }

    private let endpoints = NIOLockedValueBox<[String: WeakEndpoint]>([:])

    private struct WeakEndpoint {
        weak var endpoint: IntrospectionEndpoint?
    }

    /// The introspection endpoint of the `oauth2-introspection` policy `identity` (its id and
    /// config hash): its cache, calls in flight and breaker outlive a snapshot that keeps the
    /// policy as it is.
    func introspectionEndpoint(
        _ identity: String, settings: IntrospectionEndpoint.Settings, redis: RedisAddress?, judge: @escaping IntrospectionEndpoint.Judge
    ) -> IntrospectionEndpoint {
        let shared = redis.map { (redis: redisClient($0), prefix: "gatehouse:introspection:\(identity):") }
        return endpoints.withLockedValue { endpoints in
            if let existing = endpoints[identity]?.endpoint { return existing }
            endpoints = endpoints.filter { $0.value.endpoint != nil }
            let created = IntrospectionEndpoint(settings, judge: judge, shared: shared, metrics: metrics, logger: logger, now: now)
            endpoints[identity] = WeakEndpoint(endpoint: created)
            return created
        }
    }

    private let checkers = NIOLockedValueBox<[String: WeakChecker]>([:])

    private struct WeakChecker {
        weak var checker: PasswordChecker?
    }

    /// The password checker of the `basic-auth` policy `identity` (its id and config hash): its
    /// remembered successes and failure counts outlive a snapshot that keeps the policy as it is.
    func passwordChecker(_ identity: String, config: JSONValue) -> PasswordChecker {
        checkers.withLockedValue { checkers in
            if let existing = checkers[identity]?.checker { return existing }
            checkers = checkers.filter { $0.value.checker != nil }
            let created = PasswordChecker(
                cacheTTL: (config["cache_ttl"]?.stringValue.flatMap(Duration.init(configText:)) ?? .seconds(60)).milliseconds,
                cacheSize: config["cache_size"]?.intValue ?? 10_000, failuresPerMinute: config["failures_per_minute"]?.intValue ?? 10, now: now)
            checkers[identity] = WeakChecker(checker: created)
            return created
        }
    }

    /// Password checks of every basic-auth policy waiting for the pool or on it.
    var passwordChecksPending: Int { checkers.withLockedValue { $0.values.compactMap(\.checker) }.reduce(0) { $0 + $1.pending } }

    /// `/metrics`: the policies' counters, the breaker of each introspection policy served, and
    /// the password checks pending.
    public var prometheusText: String {
        let breakers = endpoints.withLockedValue { $0.values.compactMap(\.endpoint) }.sorted { $0.settings.policy < $1.settings.policy }
        return metrics.prometheusText
            + "# HELP gatehouse_basic_auth_checks_pending Password checks waiting for the password pool or on it.\n"
            + "# TYPE gatehouse_basic_auth_checks_pending gauge\ngatehouse_basic_auth_checks_pending \(passwordChecksPending)\n"
            + "# HELP gatehouse_introspection_breaker_state The breaker of each oauth2-introspection policy: 0 closed, 1 open, 2 half-open.\n"
            + "# TYPE gatehouse_introspection_breaker_state gauge\n"
            + breakers.map { "gatehouse_introspection_breaker_state{policy=\"\($0.settings.policy)\"} \($0.breakerGauge)\n" }.joined()
    }

    private struct WeakCounters {
        weak var counters: LocalCounters?
    }

    /// A Redis command not answered within this fails (and the policy fails open or closed).
    let redisTimeout: TimeAmount
    /// False for `explain`'s throwaway compiles: a JWK set is never fetched for one.
    let fetchesKeys: Bool

    public init(
        logger: Logger, redisTimeout: TimeAmount = .milliseconds(250), fetchesKeys: Bool = true,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.logger = logger
        self.fetchesKeys = fetchesKeys
        self.redisTimeout = redisTimeout
        self.now = now
    }

    /// The counters of the local rate limit `identity`: the same object while any served config
    /// holds it, so counts carry over to the next snapshot.
    func localCounters(_ identity: String) -> LocalCounters {
        local.withLockedValue { local in
            if let existing = local[identity]?.counters { return existing }
            // Forget the counters of policies no served config holds any more.
            local = local.filter { $0.value.counters != nil }
            let created = LocalCounters()
            local[identity] = WeakCounters(counters: created)
            return created
        }
    }

    /// The verified-token cache of the `jwt` policy `identity` (its id and config hash), kept
    /// while a served config holds it, as local counters are.
    func tokenCache(_ identity: String, capacity: Int) -> TokenCache {
        tokens.withLockedValue { tokens in
            if let existing = tokens[identity]?.cache { return existing }
            tokens = tokens.filter { $0.value.cache != nil }
            let created = TokenCache(capacity: capacity)
            tokens[identity] = WeakTokenCache(cache: created)
            return created
        }
    }

    func redisClient(_ address: RedisAddress) -> RedisClient {
        redis.withLockedValue { redis in
            if let existing = redis[address] { return existing }
            let created = RedisClient(
                address: RedisServerAddress(
                    host: address.host, port: address.port, user: address.user, password: address.password, database: address.database),
                logger: logger, commandTimeout: redisTimeout
            ) { [metrics] in metrics.redisErrors.wrappingIncrement(ordering: .relaxed) }
            redis[address] = created
            return created
        }
    }
}
