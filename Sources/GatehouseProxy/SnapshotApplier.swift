import GatehouseModel
import Logging

/// Feeds snapshots from a source (in-process or remote) into the data plane: each is compiled
/// off the event loops and swapped in with one atomic store; a snapshot that cannot be compiled
/// is refused whole and the last good config keeps serving. A snapshot whose hash equals the one
/// being served is not recompiled. Snapshots must come in version order from one task.
public struct SnapshotApplier: Sendable {
    let active: ActiveConfig
    let state: DataPlaneState
    let checker: ActiveHealthChecker?
    let logger: Logger

    public init(active: ActiveConfig, state: DataPlaneState, checker: ActiveHealthChecker? = nil, logger: Logger) {
        self.active = active
        self.state = state
        self.checker = checker
        self.logger = logger
    }

    /// Applies one snapshot. Returns the rejection reason, or nil when it is being served.
    @discardableResult
    public func apply(_ snapshot: Snapshot) -> String? {
        if let current = active.load(), current.version >= snapshot.version { return nil }
        let started = ContinuousClock.now
        do {
            let compiled: CompiledConfig
            if let current = active.load(), current.hash == snapshot.hash {
                // Same content under a newer version (a rollback, say): keep the compiled table.
                compiled = CompiledConfig(version: snapshot.version, hash: snapshot.hash, routes: current.routes, upstreams: current.upstreams)
            } else {
                compiled = try ConfigCompiler.compile(snapshot)
            }
            active.store(compiled)
            state.applied(compiled)
            checker?.update(compiled)
            logger.info(
                "config applied",
                metadata: [
                    "version": "\(snapshot.version)", "hash": "\(snapshot.hash.prefix(12))", "routes": "\(compiled.routes.routeCount)",
                    "compile_ms": "\((ContinuousClock.now - started).milliseconds)",
                ])
            return nil
        } catch {
            state.rejected(snapshot, reason: error.description)
            logger.error(
                "config rejected; the last good config keeps serving", metadata: ["version": "\(snapshot.version)", "reason": "\(error.description)"])
            return error.description
        }
    }

    /// Applies every snapshot the source yields until it finishes or the task is cancelled.
    public func run(_ source: some AsyncSequence<Snapshot, Never> & Sendable) async {
        for await snapshot in source {
            apply(snapshot)
        }
    }
}
