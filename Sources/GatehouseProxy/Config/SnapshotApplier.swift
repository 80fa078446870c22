import GatehouseModel
import Logging
import NIOConcurrencyHelpers

/// Feeds snapshots from a source (in-process or remote) into the data plane: each is compiled
/// off the event loops, on a thread of low CPU priority, keeping what the served config compiled
/// of the routes and upstreams that did not change, and swapped in with one atomic store; a snapshot that cannot be compiled
/// is refused whole and the last good config keeps serving. A snapshot whose hash equals the one
/// being served is not recompiled. Snapshots must come in version order from one task.
///
/// With discovery, a snapshot's new target names are resolved before it is compiled, and when
/// an answer changes later the upstreams concerned are compiled again and swapped in the same
/// way, under the same version.
public struct SnapshotApplier: Sendable {
    let active: ActiveConfig
    let state: DataPlaneState
    let checker: ActiveHealthChecker?
    let discovery: TargetDiscovery?
    let policies: PolicyState
    /// Opens certificate keys (`GATEHOUSE_SECRET_KEY`).
    let sealer: KeySealer?
    /// Where requests are counted: the proxy's listener counts into the same.
    public let meters: RequestMetrics
    let logger: Logger
    /// Applying a snapshot and applying new addresses both replace the active config.
    private let swapping = NIOLock()

    public init(
        active: ActiveConfig, state: DataPlaneState, checker: ActiveHealthChecker? = nil, discovery: TargetDiscovery? = nil,
        policies: PolicyState? = nil, meters: RequestMetrics = RequestMetrics(), sealer: KeySealer? = nil, logger: Logger
    ) {
        self.sealer = sealer
        self.policies = policies ?? PolicyState(logger: logger)
        self.meters = meters
        self.active = active
        self.state = state
        self.checker = checker
        self.discovery = discovery
        self.logger = logger
    }

    /// Applies one snapshot. Returns the rejection reason, or nil when it is being served. A
    /// version not newer than the one served is passed over, unless `replacingNewer` (a remote
    /// control plane whose history started again says it is current): then only the very version
    /// and hash served already are.
    @discardableResult
    public func apply(_ snapshot: Snapshot, replacingNewer: Bool = false) -> String? {
        swapping.withLock { () -> String? in
            if let current = active.load(),
                replacingNewer ? current.version == snapshot.version && current.hash == snapshot.hash : current.version >= snapshot.version
            {
                return nil
            }
            let started = ContinuousClock.now
            do {
                let compiled: CompiledConfig
                if let current = active.load(), current.hash == snapshot.hash {
                    // Same content under a newer version (a rollback, say): keep the compiled table.
                    compiled = current.with(version: snapshot.version, hash: snapshot.hash)
                } else {
                    compiled = try ConfigCompiler.compile(snapshot, policies: policies, meters: meters, answers: discovery?.answers ?? [:], previous: active.load(), sealer: sealer)
                }
                active.store(compiled)
                let took = ContinuousClock.now - started
                state.applied(compiled, seconds: Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
                checker?.update(compiled)
                discovery?.retain(compiled.questions)
                logger.info(
                    "config applied",
                    metadata: [
                        "version": "\(snapshot.version)", "hash": "\(snapshot.hash.prefix(12))", "routes": "\(compiled.routes.routeCount)",
                        "compile_ms": "\((ContinuousClock.now - started).milliseconds)",
                    ])
                return nil
            } catch {
                let reason = "\(error)"
                state.rejected(snapshot, reason: reason)
                logger.error(
                    "config rejected; the last good config keeps serving", metadata: ["version": "\(snapshot.version)", "reason": "\(reason)"])
                return reason
            }
        }
    }

    /// `apply` on the compile thread (`CompileThread`), whose low CPU priority lets the event
    /// loops go first on a busy machine.
    public func applyOffLoop(_ snapshot: Snapshot, replacingNewer: Bool = false) async -> String? {
        await CompileThread.shared.run { apply(snapshot, replacingNewer: replacingNewer) }
    }

    /// Compiles again the upstreams whose targets now resolve to other addresses, and swaps in
    /// the served config with them; the route table is shared.
    func applyAddresses() {
        guard let discovery else { return }
        swapping.withLock {
            guard let current = active.load() else { return }
            let answers = discovery.answers
            var changed = false
            let upstreams = current.upstreams.map { upstream in
                guard upstream.source.targets.contains(where: { !$0.isIPAddress }) else { return upstream }
                let endpoints = UpstreamEndpoint.expand(upstream.source.targets, answers: answers)
                guard endpoints != upstream.endpoints,
                    let replaced = try? ConfigCompiler.compile(upstream.source, endpoints: endpoints, previous: upstream, meters: meters)
                else { return upstream }
                changed = true
                return replaced
            }
            guard changed else { return }
            let compiled = current.with(version: current.version, hash: current.hash, upstreams: upstreams)
            active.store(compiled)
            checker?.update(compiled)
            logger.info("new target addresses applied", metadata: ["version": "\(current.version)"])
        }
    }

    /// Applies every snapshot the source yields until it finishes or the task is cancelled, and
    /// meanwhile keeps target addresses fresh. `settled` hears of each: the rejection reason, or
    /// nil when it is served.
    public func run(
        _ source: some AsyncSequence<Snapshot, Never> & Sendable, settled: @escaping @Sendable (Snapshot, String?) async -> Void = { _, _ in }
    ) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await keepAddressesFresh() }
            for await snapshot in source {
                await prepare(snapshot)
                await settled(snapshot, await applyOffLoop(snapshot))
            }
            group.cancelAll()
        }
    }

    /// Resolves the target names of `snapshot` not asked before, ahead of `apply`.
    public func prepare(_ snapshot: Snapshot) async {
        await discovery?.prepare(TargetDiscovery.questions(in: snapshot.document))
    }

    /// Asks target names again as their answers expire and applies new addresses, until cancelled
    /// (part of `run`, for a source that calls `apply` itself).
    public func keepAddressesFresh() async {
        await discovery?.run { self.applyAddresses() }
    }
}
