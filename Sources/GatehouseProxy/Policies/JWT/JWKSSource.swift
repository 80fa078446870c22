import AsyncHTTPClient
import GatehouseModel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The keys an identity provider publishes at a `jwks_uri`, fetched in the background (never
/// on an event loop): again when the answer's `Cache-Control: max-age` runs out (within the
/// policy's bounds), at once when a token names an unknown `kid` but at most once per cool-down
/// (so a flood of random `kid`s makes one fetch; the requests that came during it wait for it,
/// so a provider that signs with a new key as soon as it publishes it costs no failed request),
/// and while the provider cannot be reached the last good
/// set is kept for `jwks_keep_stale`. Keys it cannot use are skipped and logged; keys the provider
/// removed stop being trusted with the next fetch. One per URL and settings per data plane,
/// shared by the snapshots that hold the policy (`PolicyState`); it stops fetching once none
/// does. Thread-safe.
final class JWKSSource: Sendable {
    struct Settings: Hashable, Sendable {
        let url: String
        let accepted: [String]
        let refreshMin: Duration
        let refreshMax: Duration
        let keepStale: Duration
        let cooldown: Duration
        let timeout: Duration

        init(_ config: JSONValue) {
            func duration(_ key: String, _ fallback: Duration) -> Duration {
                config[key]?.stringValue.flatMap(Duration.init(configText:)) ?? fallback
            }
            url = config["jwks_uri"]?.stringValue ?? ""
            accepted = config["algorithms"]?.arrayValue?.compactMap(\.stringValue) ?? []
            refreshMin = duration("jwks_refresh_min", .seconds(60))
            refreshMax = duration("jwks_refresh_max", .seconds(3_600))
            keepStale = duration("jwks_keep_stale", .seconds(86_400))
            cooldown = duration("jwks_refetch_cooldown", .seconds(30))
            timeout = duration("jwks_timeout", .seconds(5))
        }
    }

    /// A JWKS over this is refused: a provider publishes a few keys, not megabytes.
    static let maxBytes = 512 * 1024

    private struct State {
        var keys: [JWTKey] = []
        /// Changes whenever the key set does: tokens cached under another are verified again.
        var generation = 0
        var lastSuccess: ContinuousClock.Instant?
        var lastAttempt: ContinuousClock.Instant?
        var nextFetch: ContinuousClock.Instant
        var fetching = false
        /// Called when the fetch under way ends (`refetch`).
        var waiters: [@Sendable () -> Void] = []
    }

    let settings: Settings
    private let logger: Logger
    private let state: NIOLockedValueBox<State>
    private let clock = ContinuousClock()
    private let fetches: Bool
    /// Requests that may wait for one refetch; past this they are refused at once.
    static let maxWaiters = 10_000

    /// - Parameter fetching: false for a source that never fetches (`explain`'s compiles).
    init(_ settings: Settings, logger: Logger, fetching: Bool = true) {
        self.settings = settings
        self.logger = logger
        state = NIOLockedValueBox(State(nextFetch: ContinuousClock.now))
        fetches = fetching
        if fetching { Self.keepFresh(self) }
    }

    /// The keys to verify with now, and their generation; none once the last good set is older
    /// than `jwks_keep_stale`.
    var current: (keys: [JWTKey], generation: Int) {
        state.withLockedValue { state in
            guard let success = state.lastSuccess, clock.now - success <= settings.keepStale + settings.refreshMax else {
                // A generation no cached token has: those verified with the old set are not used.
                return ([], -1)
            }
            return (state.keys, state.generation)
        }
    }

    /// A token named a `kid` the set lacks: fetch again now, unless one was tried within the
    /// cool-down, and call `done` when that fetch (or the one under way) ends. Returns false,
    /// and never calls `done`, when no fetch will come.
    func refetch(_ done: @escaping @Sendable () -> Void) -> Bool {
        guard fetches else { return false }
        let starts: Bool? = state.withLockedValue { state in
            guard state.waiters.count < Self.maxWaiters else { return nil }
            var starts = false
            if !state.fetching {
                if let attempt = state.lastAttempt, clock.now - attempt < settings.cooldown { return nil }
                state.fetching = true
                state.lastAttempt = clock.now
                starts = true
            }
            state.waiters.append(done)
            return starts
        }
        guard let starts else { return false }
        if starts { Task.detached { [self] in await self.fetch() } }
        return true
    }

    /// Whether `refetch` would start a fetch now (its cool-down passed).
    var refetchAllowed: Bool {
        state.withLockedValue { state in !state.fetching && state.lastAttempt.map { clock.now - $0 >= settings.cooldown } ?? true }
    }

    /// Whether a fetch would start now (for tests: a flood of unknown `kid`s within the cool-down
    /// must not make one due).
    var fetchDue: Bool { state.withLockedValue { !$0.fetching && clock.now >= $0.nextFetch } }

    /// Fetches while anything holds the source, polling its due time four times a second.
    private static func keepFresh(_ source: JWKSSource) {
        Task.detached { [weak source] in
            while true {
                guard let due = source?.takeDue() else { return }
                if due, let source { await source.fetch() }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// True when a fetch is due now (and marks it started).
    private func takeDue() -> Bool {
        state.withLockedValue { state in
            guard !state.fetching, clock.now >= state.nextFetch else { return false }
            state.fetching = true
            state.lastAttempt = clock.now
            return true
        }
    }

    private func fetch() async {
        let outcome = await Self.download(settings)
        let waiters = state.withLockedValue { state in
            defer { state.waiters = [] }
            state.fetching = false
            switch outcome {
            case .success(let (keys, maxAge)):
                if keys.map(\.fingerprint) != state.keys.map(\.fingerprint) { state.generation += 1 }
                state.keys = keys
                state.lastSuccess = clock.now
                let wait = min(max(maxAge ?? settings.refreshMin, settings.refreshMin), settings.refreshMax)
                state.nextFetch = clock.now + wait
            case .failure:
                // Try again soon, never faster than the cool-down.
                state.nextFetch = clock.now + max(settings.cooldown, .seconds(1))
            }
            return state.waiters
        }
        for waiter in waiters { waiter() }
        switch outcome {
        case .success(let (keys, _)): logger.debug("jwks fetched", metadata: ["url": "\(settings.url)", "keys": "\(keys.count)"])
        case .failure(let error):
            logger.warning("fetching a JWKS failed; the last good keys stay in use", metadata: ["url": "\(settings.url)", "error": "\(error.description)"])
        }
    }


    /// One GET of the set: its usable keys and the `max-age` it may be kept for.
    struct FetchFailure: Error, CustomStringConvertible {
        let description: String
    }

    static func download(_ settings: Settings) async -> Result<([JWTKey], Duration?), FetchFailure> {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: settings.url, method: .GET, headers: ["accept": "application/json"])
        } catch {
            return .failure(FetchFailure(description: "not a URL"))
        }
        // The introspection calls' client: no redirect followed (the set comes from the URL the
        // operator configured, never from one its server names), the size capped as it is read,
        // and the whole answer, a provider sending a byte a second included, within the timeout.
        let response: HTTPClient.Response
        do {
            response = try await IntrospectionEndpoint.client.execute(
                request: request, delegate: ResponseAccumulator(request: request, maxBodySize: maxBytes), eventLoop: .indifferent,
                deadline: .now() + .milliseconds(settings.timeout.milliseconds)
            ).futureResult.get()
        } catch let error as ResponseAccumulator.ResponseTooBigError {
            return .failure(FetchFailure(description: "over \(maxBytes) bytes (\(error.maxBodySize))"))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            return .failure(FetchFailure(description: "no whole answer within \(settings.timeout)"))
        } catch {
            return .failure(FetchFailure(description: "\(error)"))
        }
        guard response.status == .ok else { return .failure(FetchFailure(description: "answered \(response.status.code)")) }
        let data = response.body.map { Array($0.readableBytesView) } ?? []
        guard case .object(let set)? = try? JSONValue.parse(data), case .array(let entries)? = set["keys"] else {
            return .failure(FetchFailure(description: "not a JWK set (a JSON object with keys)"))
        }
        var keys: [JWTKey] = []
        for (index, entry) in entries.enumerated() {
            // The rules of keys in a config; a published set holds JWKs only, and no shared secrets.
            guard entry["kty"] != nil, entry["kty"] != .string("oct"), (try? JWTConfigRules.checkKey(entry, accepted: settings.accepted, field: "keys[\(index)]")) != nil,
                let key = try? JWTKey(jwk: entry.objectValue ?? [:], accepted: settings.accepted)
            else { continue }
            keys.append(key)
        }
        let maxAge = response.headers["cache-control"].joined(separator: ",").split(separator: ",").lazy
            .map { $0.trimmingASCIISpaces().lowercased() }
            .first { $0.hasPrefix("max-age=") }
            .flatMap { Int64($0.dropFirst(8)) }
            .map { Duration.seconds($0) }
        return .success((keys, maxAge))
    }
}
