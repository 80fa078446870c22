import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The slow part of a `basic-auth` policy, kept for the life of a data plane while a served
/// config holds the policy unchanged: PBKDF2 checks on a thread pool of their own, never on an
/// event loop; successes remembered for `cache_ttl` under a keyed hash of the credentials (so a
/// client sending its password with every request costs one derivation per period, and the
/// memory holds nothing a password can be tested against offline); concurrent checks of one
/// pair made once; and failed attempts counted per client address, so that guessing is refused
/// (429) before it costs a derivation. Thread-safe.
final class PasswordChecker: Sendable {
    enum Result: Sendable {
        case matched
        case mismatched
        /// Too many checks wait for the pool: the request gets 503.
        case busy
    }

    private struct Success {
        let stored: String
        let until: Int64
    }

    private struct Waiter {
        let loop: any EventLoop
        let done: NIOLoopBound<(Result) -> Void>
    }

    private struct State {
        var successes: [ConsumerDirectory.Digest: Success] = [:]
        var checking: [ConsumerDirectory.Digest: [Waiter]] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let failures = LocalCounters()
    private let secret = SymmetricKey(size: .bits256)
    let cacheTTL: Int64
    let cacheSize: Int
    let failuresPerMinute: Int
    private let now: @Sendable () -> Int64
    /// Checks waiting for or on the pool beyond which a new one is refused: each holds a
    /// request, and the pool gets through a few dozen a second.
    static let maxChecking = 256

    /// One thread per two cores: a flood of wrong passwords slows other checks, not the proxy.
    static let poolThreads = max(1, System.coreCount / 2)
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: poolThreads)
        pool.start()
        return pool
    }()

    init(cacheTTL: Int64, cacheSize: Int, failuresPerMinute: Int, now: @escaping @Sendable () -> Int64) {
        self.cacheTTL = cacheTTL
        self.cacheSize = cacheSize
        self.failuresPerMinute = failuresPerMinute
        self.now = now
    }

    /// Checks waiting for the pool or on it.
    var pending: Int { state.withLockedValue { $0.checking.count } }

    /// The cache key of a username and password: an HMAC under a key this process drew.
    func key(username: Substring, password: Substring) -> ConsumerDirectory.Digest {
        var message = Array(username.utf8)
        message.append(0)
        message += password.utf8
        return ConsumerDirectory.Digest(bytes: Array(HMAC<SHA256>.authenticationCode(for: message, using: secret)))
    }

    /// Whether this pair was checked good against `stored` within `cache_ttl`.
    func remembers(_ key: ConsumerDirectory.Digest, stored: String) -> Bool {
        let now = now()
        return state.withLockedValue { state in
            guard let success = state.successes[key], success.stored == stored, now < success.until else { return false }
            return true
        }
    }

    /// Whether `client` failed too often this minute to be checked again. A check under way
    /// counts as a failure until it succeeds, so a burst of guesses sent at once is held to the
    /// limit too.
    func refuses(_ client: String) -> Bool {
        failures.count(client, windowID: now() / 60_000) >= failuresPerMinute
    }

    /// Checks `password` against `stored` on the pool and calls `done` on `loop` with the
    /// result (or at once with `busy`). A mismatch counts against `client`. Call on `loop`.
    func check(
        _ password: Substring, against stored: StoredPassword, key: ConsumerDirectory.Digest, client: String, on loop: any EventLoop,
        _ done: @escaping (Result) -> Void
    ) {
        let waiter = Waiter(loop: loop, done: NIOLoopBound(done, eventLoop: loop))
        let starts: Bool? = state.withLockedValue { state in
            if state.checking[key] != nil {
                state.checking[key]!.append(waiter)
                return false
            }
            guard state.checking.count < Self.maxChecking else { return nil }
            state.checking[key] = [waiter]
            return true
        }
        guard let starts else { return done(.busy) }
        guard starts else { return }
        let window = now() / 60_000
        _ = failures.increment(client, windowID: window)
        let password = String(password)
        Self.pool.submit { [self] poolState in
            let matched = poolState == .active && stored.matches(password[...])
            self.finish(key, stored: stored, client: client, window: window, poolState == .active ? (matched ? .matched : .mismatched) : .busy)
        }
    }

    private func finish(_ key: ConsumerDirectory.Digest, stored: StoredPassword, client: String, window: Int64, _ result: Result) {
        let now = now()
        // The failure counted when the check started stands only for a wrong password.
        if result != .mismatched { failures.decrement(client, windowID: window) }
        let waiters = state.withLockedValue { state in
            if result == .matched, cacheTTL > 0, cacheSize > 0 {
                if state.successes.count >= cacheSize, state.successes[key] == nil {
                    state.successes = state.successes.filter { $0.value.until > now }
                    if state.successes.count >= cacheSize, let victim = state.successes.keys.first { state.successes[victim] = nil }
                }
                state.successes[key] = Success(stored: stored.text, until: now + cacheTTL)
            }
            return state.checking.removeValue(forKey: key) ?? []
        }
        for waiter in waiters {
            let done = waiter.done
            waiter.loop.execute { done.value(result) }
        }
    }
}
