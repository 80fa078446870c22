import GatehouseModel
import GatehouseRedis

/// A `rate-limit` or `quota` policy compiled: what it counts, per what, and where. Immutable;
/// its counts live in `LocalCounters` or Redis, which outlive snapshots.
///
/// Windows are fixed and aligned to the Unix epoch (a `1m` window starts at every whole minute;
/// quota periods are UTC calendar days and months), so every data plane sharing a Redis counts
/// the same window under the same key.
public final class LimitPolicy: Sendable {
    enum Kind: Sendable {
        /// `window` in milliseconds.
        case rateLimit(window: Int64)
        case quota(monthly: Bool)
    }

    /// What a count is kept per.
    enum CountedBy: Sendable {
        /// The identified consumer, else the client IP.
        case consumer
        case ip
        /// A header's value, else the client IP.
        case header(String)
        case route
    }

    enum Counter: Sendable {
        case local(LocalCounters)
        case redis(RedisClient)
    }

    public let name: String
    let kind: Kind
    let limit: Int
    let by: CountedBy
    let counter: Counter
    let failOpen: Bool
    /// Part of every Redis key: the policy id, and for rate limits the config hash too.
    let identity: String
    /// Wall-clock milliseconds since the epoch.
    let now: @Sendable () -> Int64
    private let limitText: String
    /// "1m", "10s", "day", "month": for messages.
    let periodName: String
    /// The 429's message: made once, not per refused request.
    let refusalMessage: String

    init(
        name: String, kind: Kind, limit: Int, by: CountedBy, counter: Counter, failOpen: Bool, identity: String,
        now: @escaping @Sendable () -> Int64
    ) {
        self.name = name
        self.kind = kind
        self.limit = limit
        self.by = by
        self.counter = counter
        self.failOpen = failOpen
        self.identity = identity
        self.now = now
        limitText = String(limit)
        switch kind {
        case .rateLimit(let window):
            periodName = Duration.milliseconds(window).configText
            refusalMessage = "more than \(limit) requests per \(periodName)"
        case .quota(let monthly):
            periodName = monthly ? "month" : "day"
            refusalMessage = "the quota of \(limit) requests per \(periodName) is used up"
        }
    }

    var isQuota: Bool {
        if case .quota = kind { return true }
        return false
    }

    /// The window a moment falls in: its number and the milliseconds until the next one.
    func window(at now: Int64) -> (id: Int64, resetMilliseconds: Int64) {
        switch kind {
        case .rateLimit(let length):
            let id = now / length
            return (id, (id + 1) * length - now)
        case .quota(let monthly):
            let day = now / 86_400_000
            guard monthly else { return (day, (day + 1) * 86_400_000 - now) }
            let (year, month) = CivilDate.yearMonth(daysSinceEpoch: day)
            let next = month == 12 ? CivilDate.daysSinceEpoch(year: year + 1, month: 1) : CivilDate.daysSinceEpoch(year: year, month: month + 1)
            return (Int64(year * 12 + month), next * 86_400_000 - now)
        }
    }

    /// The Redis key counting `key` in `window`.
    func redisKey(_ key: String, window: Int64) -> String {
        "gatehouse:\(isQuota ? "quota" : "rl"):\(identity):\(window):\(key)"
    }

    /// The headers telling the client where it stands.
    func headers(count: Int, resetMilliseconds: Int64) -> [(String, String)] {
        let remaining = String(max(0, limit - count))
        let reset = String((resetMilliseconds + 999) / 1000)
        return isQuota
            ? [("x-quota-limit", limitText), ("x-quota-remaining", remaining), ("x-quota-reset", reset)]
            : [("ratelimit-limit", limitText), ("ratelimit-remaining", remaining), ("ratelimit-reset", reset)]
    }
}
