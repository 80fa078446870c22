import AsyncHTTPClient
import Foundation
import GatehouseModel
import GatehouseRedis
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The authorization server of one `oauth2-introspection` policy (RFC 7662), asked so that it
/// cannot be flooded: answers are cached by the token's SHA-256 (good ones until
/// `min(max_ttl, exp)`, refusals for `negative_ttl`, failures never); requests that carry one
/// uncached token wait on one call (singleflight); at most `max_in_flight` calls run at once and
/// the tokens beyond wait their turn for at most `timeout`; and a breaker leaves the server alone
/// for a cool-down after repeated failures. While it cannot be asked, a token known good keeps
/// working for `stale_if_error` past its cached time (never past its `exp`); others get 503.
/// With `redis_url`, answers are also shared by the data planes through Redis: a token one data
/// plane asked about is not asked about again by another while its answer lasts.
///
/// One per policy and config for the life of a data plane (`PolicyState`), shared by its event
/// loops: the cache outlives snapshots that keep the policy as it is. Thread-safe: everything
/// mutable is under one lock, held for lookups and bookkeeping only, never across a call.
final class IntrospectionEndpoint: Sendable {
    struct Settings: Sendable {
        let policy: String
        let url: String
        let clientID: String
        let clientSecret: String
        let credentialsInBody: Bool
        let tokenTypeHint: String
        let maxTTL: Int64
        let negativeTTL: Int64
        let staleIfError: Int64
        let timeout: TimeAmount
        let maxInFlight: Int
        let breakerFailures: Int
        let breakerCooldown: Int64
        let cacheSize: Int

        init(policy: String, config: JSONValue) {
            func milliseconds(_ key: String, _ fallback: Duration) -> Int64 {
                (config[key]?.stringValue.flatMap(Duration.init(configText:)) ?? fallback).milliseconds
            }
            self.policy = policy
            url = config["introspection_url"]?.stringValue ?? ""
            clientID = config["client_id"]?.stringValue ?? ""
            clientSecret = config["client_secret"]?.stringValue ?? ""
            credentialsInBody = config["client_auth"]?.stringValue == "body"
            tokenTypeHint = config["token_type_hint"]?.stringValue ?? "access_token"
            maxTTL = milliseconds("max_ttl", .seconds(300))
            negativeTTL = milliseconds("negative_ttl", .seconds(10))
            staleIfError = milliseconds("stale_if_error", .seconds(60))
            timeout = .milliseconds(milliseconds("timeout", .seconds(2)))
            maxInFlight = config["max_in_flight"]?.intValue ?? 16
            breakerFailures = config["breaker_failures"]?.intValue ?? 5
            breakerCooldown = milliseconds("breaker_cooldown", .seconds(10))
            cacheSize = config["cache_size"]?.intValue ?? 10_000
        }
    }

    /// What the server's answer means for a token, as the policy judged it.
    enum Verdict: Sendable {
        case accepted(VerifiedClaims)
        case refused(TokenRefusal)
    }

    /// Judges an active token's claims (scopes, audience): the policy's rules.
    typealias Judge = @Sendable ([String: JSONValue]) -> Verdict

    private struct Entry {
        let verdict: Verdict
        /// Milliseconds since the epoch: used as is until `fresh`, and while the server cannot
        /// be asked until `stale` (never past the token's `exp`).
        let fresh: Int64
        let stale: Int64
    }

    /// A request waiting for a token's answer, called back on its own event loop.
    private struct Waiter {
        let loop: any EventLoop
        let done: NIOLoopBound<(Verdict) -> Void>
    }

    /// One token's call: running, or queued for a free slot.
    private struct Call {
        let id: Int
        let token: String
        var waiters: [Waiter]
        var running: Bool
        /// The first waiter's: where the call's Redis commands run.
        let loop: any EventLoop
    }

    private struct State {
        var entries: [ConsumerDirectory.Digest: Entry] = [:]
        var calls: [ConsumerDirectory.Digest: Call] = [:]
        var queue = CircularBuffer<ConsumerDirectory.Digest>()
        var running = 0
        var nextID = 0
        var breaker: CircuitBreaker
    }

    let settings: Settings
    /// The shared cache, and the prefix of its keys (the policy's id and config hash: every data
    /// plane serving the policy as it is shares them).
    private let shared: (redis: RedisClient, prefix: String)?
    private let headers: HTTPHeaders
    private let judge: Judge
    private let state: NIOLockedValueBox<State>
    private let metrics: PolicyMetrics
    private let logger: Logger
    private let now: @Sendable () -> Int64
    /// Distinct tokens that may wait for a slot beyond those in flight: past this, 503 at once.
    private var maxQueued: Int { settings.maxInFlight * 64 }
    /// An answer is a small JSON object; a larger one is a server in trouble.
    static let maxAnswerBytes = 64 * 1024

    init(
        _ settings: Settings, judge: @escaping Judge, shared: (redis: RedisClient, prefix: String)? = nil, metrics: PolicyMetrics, logger: Logger,
        now: @escaping @Sendable () -> Int64
    ) {
        self.settings = settings
        self.shared = shared
        headers = Self.headers(settings)
        self.judge = judge
        self.metrics = metrics
        self.logger = logger
        self.now = now
        state = NIOLockedValueBox(
            State(breaker: CircuitBreaker(threshold: settings.breakerFailures, cooldownMilliseconds: settings.breakerCooldown)))
    }

    /// The breaker, for `/metrics`.
    var breakerGauge: Int { state.withLockedValue { $0.breaker.gauge } }

    /// The cached answer for a token, if it is still fresh. Touches nothing: `explain` asks too.
    func cached(_ key: ConsumerDirectory.Digest) -> Verdict? {
        let now = now()
        return state.withLockedValue { state in
            guard let entry = state.entries[key], now < entry.fresh else { return nil }
            return entry.verdict
        }
    }

    /// The answer for `token`: at once when it is cached or cannot be asked for, else nil, and
    /// `done` is called on `loop` once the server answered (or failed, or the wait timed out).
    /// Call on `loop`.
    func check(_ token: Substring, key: ConsumerDirectory.Digest, on loop: any EventLoop, _ done: @escaping (Verdict) -> Void) -> Verdict? {
        let now = now()
        let waiter = Waiter(loop: loop, done: NIOLoopBound(done, eventLoop: loop))
        enum Step {
            case answered(Verdict)
            case wait
            case start(Int)
            case queued(Int)
        }
        let step: Step = state.withLockedValue { state in
            if let entry = state.entries[key], now < entry.fresh {
                metrics.introspectionCache(.hit)
                return .answered(entry.verdict)
            }
            if state.calls[key] != nil {
                metrics.introspectionCache(.coalesced)
                state.calls[key]!.waiters.append(waiter)
                return .wait
            }
            metrics.introspectionCache(.miss)
            guard !state.breaker.refuses(now: now) else {
                return .answered(Self.fallback(state.entries[key], now: now, metrics: metrics, .unavailable))
            }
            state.nextID += 1
            let id = state.nextID
            // `allows` only where a call starts: a due breaker lets that call through as its probe.
            if state.running < settings.maxInFlight, state.breaker.allows(now: now) {
                state.running += 1
                state.calls[key] = Call(id: id, token: String(token), waiters: [waiter], running: true, loop: loop)
                return .start(id)
            }
            guard state.queue.count < maxQueued else { return .answered(Self.fallback(state.entries[key], now: now, metrics: metrics, .busy)) }
            state.calls[key] = Call(id: id, token: String(token), waiters: [waiter], running: false, loop: loop)
            state.queue.append(key)
            return .queued(id)
        }
        switch step {
        case .answered(let verdict): return verdict
        case .wait: return nil
        case .start(let id):
            call(String(token), key: key, id: id, on: loop)
            return nil
        case .queued(let id):
            loop.scheduleTask(in: settings.timeout) { [self] in self.giveUpWaiting(key, id: id) }
            return nil
        }
    }

    /// What a token gets when its answer cannot be had: its last good answer while within
    /// `stale_if_error`, else 503.
    private static func fallback(_ entry: Entry?, now: Int64, metrics: PolicyMetrics, _ refusal: TokenRefusal) -> Verdict {
        if let entry, case .accepted = entry.verdict, now < entry.stale {
            metrics.introspectionCache(.stale)
            return entry.verdict
        }
        return .refused(refusal)
    }

    /// Looks in the shared cache first, when there is one; then asks the server.
    private func call(_ token: String, key: ConsumerDirectory.Digest, id: Int, on loop: any EventLoop) {
        guard let shared else { return ask(token, key: key, id: id, on: loop) }
        loop.execute { [self] in
            shared.redis.get(shared.prefix + key.hex, on: loop) { [self] value in
                if case .found(let bytes) = value, let answer = Self.answer(bytes) {
                    metrics.introspectionCache(.shared)
                    return finish(key, id: id, .success(answer), from: nil)
                }
                ask(token, key: key, id: id, on: loop)
            }
        }
    }

    private func ask(_ token: String, key: ConsumerDirectory.Digest, id: Int, on loop: any EventLoop) {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: settings.url, method: .POST, headers: headers, body: .string(body(token)))
        } catch {
            return finish(key, id: id, .failure(.init(kind: .failed, detail: "the URL cannot be called: \(error)")), from: loop)
        }
        let started = NIODeadline.now()
        Self.client.execute(
            request: request, delegate: ResponseAccumulator(request: request, maxBodySize: Self.maxAnswerBytes), eventLoop: .indifferent,
            deadline: started + settings.timeout
        ).futureResult.whenComplete { [self] result in
            self.finish(key, id: id, self.read(result), from: loop)
        }
    }

    struct Failure: Error {
        enum Kind { case failed, timedOut }
        let kind: Kind
        let detail: String
    }

    /// An answer as the server sent it: its claims when active, nil when not; and its bytes, to
    /// share.
    struct Answer {
        let claims: [String: JSONValue]?
        let bytes: [UInt8]
    }

    /// An RFC 7662 answer: a JSON object with a boolean `active`, and `exp` and `nbf`, where
    /// given, NumericDates (anything else there makes the answer unusable, not an endless token).
    private static func answer(_ bytes: [UInt8]) -> Answer? {
        guard case .object(let claims)? = try? JSONValue.parse(bytes), case .bool(let active)? = claims["active"],
            ["exp", "nbf"].allSatisfy({ claims[$0] == nil || (try? JWTPolicy.seconds(claims[$0])) != nil })
        else { return nil }
        return Answer(claims: active ? claims : nil, bytes: bytes)
    }

    /// The server's answer, or why there is none.
    private func read(_ result: Result<HTTPClient.Response, any Error>) -> Result<Answer, Failure> {
        let response: HTTPClient.Response
        switch result {
        case .failure(let error as HTTPClientError) where error == .deadlineExceeded || error == .connectTimeout || error == .readTimeout:
            return .failure(Failure(kind: .timedOut, detail: "no answer within \(settings.timeout.nanoseconds / 1_000_000) ms"))
        case .failure(let error): return .failure(Failure(kind: .failed, detail: "\(error)"))
        case .success(let answer): response = answer
        }
        guard response.status == .ok else { return .failure(Failure(kind: .failed, detail: "it answered \(response.status.code)")) }
        guard let body = response.body, let answer = Self.answer(Array(body.readableBytesView)) else {
            return .failure(Failure(kind: .failed, detail: "its answer is not an RFC 7662 JSON object with active"))
        }
        return .success(answer)
    }

    /// - Parameter loop: where the call ran, when it was the server's (its answer is then shared
    ///   through Redis from there); nil for an answer Redis gave.
    private func finish(_ key: ConsumerDirectory.Digest, id: Int, _ answer: Result<Answer, Failure>, from loop: (any EventLoop)?) {
        let now = now()
        // Calls the server received; an answer from Redis is no call.
        let called: (PolicyMetrics.CallResult) -> Void = { [metrics] result in if loop != nil { metrics.introspectionCall(result) } }
        var verdict: Verdict
        var entry: Entry?
        switch answer.map(\.claims) {
        case .success(let claims?):
            // An `exp` already past makes an active answer worthless; an `nbf` to come, not yet of use.
            let expiry = (try? JWTPolicy.seconds(claims["exp"])).map { $0 * 1000 }
            let notBefore = (try? JWTPolicy.seconds(claims["nbf"])).map { $0 * 1000 }
            if let expiry, expiry <= now {
                called(.inactive)
                verdict = .refused(.inactive)
            } else if let notBefore, notBefore > now {
                called(.inactive)
                verdict = .refused(.notYetValid)
            } else {
                called(.active)
                verdict = judge(claims)
            }
            if case .accepted = verdict {
                let fresh = min(now + settings.maxTTL, expiry ?? .max)
                entry = Entry(verdict: verdict, fresh: fresh, stale: min(fresh + settings.staleIfError, expiry ?? .max))
            } else {
                entry = Entry(verdict: verdict, fresh: now + settings.negativeTTL, stale: now + settings.negativeTTL)
            }
        case .success(nil):
            called(.inactive)
            verdict = .refused(.inactive)
            entry = Entry(verdict: verdict, fresh: now + settings.negativeTTL, stale: now + settings.negativeTTL)
        case .failure(let failure):
            called(failure.kind == .timedOut ? .timedOut : .failed)
            logger.warning(
                "introspection failed", metadata: ["policy": "\(settings.policy)", "url": "\(settings.url)", "reason": "\(failure.detail)"])
            verdict = .refused(.unavailable)
        }
        if let shared, let loop, case .success(let answer) = answer, let entry, entry.fresh > now {
            loop.execute { shared.redis.set(shared.prefix + key.hex, answer.bytes, ttl: .milliseconds(entry.fresh - now), on: loop) }
        }
        var answered: [(Waiter, Verdict)] = []
        var starting: [(String, ConsumerDirectory.Digest, Int, any EventLoop)] = []
        state.withLockedValue { state in
            state.running -= 1
            if loop != nil {
                if entry != nil { state.breaker.succeeded() } else { state.breaker.failed(now: now) }
            }
            if entry == nil { verdict = Self.fallback(state.entries[key], now: now, metrics: metrics, .unavailable) }
            if let entry, entry.fresh > now {
                if state.entries.count >= settings.cacheSize, state.entries[key] == nil {
                    Self.evict(&state.entries, now: now)
                }
                if settings.cacheSize > 0 { state.entries[key] = entry }
            }
            if let call = state.calls[key], call.id == id {
                state.calls[key] = nil
                answered += call.waiters.map { ($0, verdict) }
            }
            // Free slots go to the tokens that waited longest.
            while state.running < settings.maxInFlight, let next = state.queue.popFirst() {
                guard var call = state.calls[next], !call.running else { continue }
                guard state.breaker.allows(now: now) else {
                    state.calls[next] = nil
                    let fallback = Self.fallback(state.entries[next], now: now, metrics: metrics, .unavailable)
                    answered += call.waiters.map { ($0, fallback) }
                    continue
                }
                call.running = true
                state.calls[next] = call
                state.running += 1
                starting.append((call.token, next, call.id, call.loop))
            }
        }
        for (waiter, verdict) in answered { Self.deliver(verdict, to: waiter) }
        for (token, next, id, loop) in starting { call(token, key: next, id: id, on: loop) }
    }

    /// A token that waited `timeout` for a slot stops waiting: its requests get 503 (or its
    /// last good answer).
    private func giveUpWaiting(_ key: ConsumerDirectory.Digest, id: Int) {
        let now = now()
        let expired: ([Waiter], Verdict)? = state.withLockedValue { state in
            guard let call = state.calls[key], call.id == id, !call.running else { return nil }
            state.calls[key] = nil
            if let index = state.queue.firstIndex(of: key) { state.queue.remove(at: index) }
            return (call.waiters, Self.fallback(state.entries[key], now: now, metrics: metrics, .busy))
        }
        guard let (waiters, verdict) = expired else { return }
        for waiter in waiters { Self.deliver(verdict, to: waiter) }
    }

    private static func deliver(_ verdict: Verdict, to waiter: Waiter) {
        let done = waiter.done
        waiter.loop.execute { done.value(verdict) }
    }

    /// Makes room in a full cache: entries past any use go first; failing that, any one.
    private static func evict(_ entries: inout [ConsumerDirectory.Digest: Entry], now: Int64) {
        let before = entries.count
        entries = entries.filter { $0.value.stale > now }
        if entries.count == before, let victim = entries.keys.first { entries[victim] = nil }
    }

    // MARK: The request

    /// Built once: the same for every call.
    private static func headers(_ settings: Settings) -> HTTPHeaders {
        var headers: HTTPHeaders = ["content-type": "application/x-www-form-urlencoded", "accept": "application/json"]
        if !settings.credentialsInBody {
            // RFC 6749 §2.3.1: each part form-encoded before they are joined.
            let pair = formEncoded(settings.clientID) + ":" + formEncoded(settings.clientSecret)
            headers.add(name: "authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        }
        return headers
    }

    private func body(_ token: String) -> String {
        var form = "token=\(Self.formEncoded(token))&token_type_hint=\(Self.formEncoded(settings.tokenTypeHint))"
        if settings.credentialsInBody {
            form += "&client_id=\(Self.formEncoded(settings.clientID))&client_secret=\(Self.formEncoded(settings.clientSecret))"
        }
        return form
    }

    /// `application/x-www-form-urlencoded`: everything but unreserved characters percent-encoded.
    static func formEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default: out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One client for every policy, for the life of the process: it pools connections per
    /// server, follows no redirect (a token is never sent where the config does not say), and
    /// verifies TLS certificates. The policies cap their own calls.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1_024)
        // A refused connection is a failed call at once, not retries until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
