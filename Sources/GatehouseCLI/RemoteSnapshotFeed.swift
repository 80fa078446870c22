import Foundation
import GatehouseCluster
import GatehouseModel
import GatehouseProxy
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Snapshots from the control plane into the data plane. A snapshot of the epoch served is
/// applied only when it is newer (a standby a moment behind its writer sends older ones); one of
/// another epoch is what the control plane says is current, applied whatever its version, since
/// its history started again (a restart, a takeover, a restore from backup), and a change of
/// version that way is logged. Each applied one is written to the cache, then acknowledged; a
/// refused one is reported with its reason, and so is a version whose frame is over the data
/// plane's limit. A heartbeat report goes out every heartbeat interval.
///
/// The feed says in its hello that it takes deltas: each delta is applied
/// to the document it names (`DeltaBases`), and the result is served only when its bytes match
/// the signed hash. A delta it cannot apply (another base, an entity it cannot read, a hash that
/// differs after patching) is logged, and the feed opens a new stream asking for the whole snapshot.
struct RemoteSnapshotFeed: Service {
    let nodeID: String
    let client: ControlPlaneClient
    let cache: SnapshotCache
    let embedded: EmbeddedDataPlane
    /// The epoch of the snapshot served, if any.
    let servedEpoch: NIOLockedValueBox<String?>
    /// The snapshot served when the feed starts (the cache's), a base for the first deltas.
    let served: SignedSnapshot?
    let logger: Logger

    func run() async {
        let inbox = ClusterInbox()
        let asking = NIOLockedValueBox(false)  // whether the feed waits for a whole snapshot
        let (nodeID, client, state, servedEpoch, applier) = (nodeID, client, embedded.state, servedEpoch, embedded.applier)
        let hello: @Sendable () -> ClusterProtocol.Hello = {
            let current = state.current
            // Naming no config asks for the whole snapshot.
            let named = asking.withLockedValue { $0 } ? nil : current.version
            return ClusterProtocol.Hello(
                nodeID: nodeID, hostname: ProcessInfo.processInfo.hostName, gatehouseVersion: GatehouseVersion.current,
                policyTypes: PolicyCatalog.enforcedTypes.map(\.rawValue).sorted(), configVersion: named,
                configHash: named == nil ? nil : current.hash,
                configEpoch: named == nil ? nil : servedEpoch.withLockedValue { $0 }, acceptsDeltas: true)
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await client.run(hello: hello) { inbox.put($0) }
                    inbox.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(ClusterProtocol.heartbeatSeconds))
                        let current = state.current
                        let epoch = current.version == nil ? nil : servedEpoch.withLockedValue { $0 }
                        await client.report(.init(nodeID: nodeID, kind: .heartbeat, version: current.version, hash: current.hash, epoch: epoch))
                    }
                }
                group.addTask { await applier.keepAddressesFresh() }
                var bases = DeltaBases()
                if let served {
                    bases.received(served)
                    bases.served()
                }
                for await _ in inbox.wakes {
                    if Task.isCancelled { break }
                    await take(inbox.take(), bases: &bases, asking: asking)
                }
                group.cancelAll()
            }
        }
    }

    /// Patches through the deltas that came, then applies the newest snapshot they make (or that came whole).
    private func take(
        _ items: [ClusterProtocol.Incoming], bases: inout DeltaBases, asking: NIOLockedValueBox<Bool>
    ) async {
        var newest: SignedSnapshot?
        var lastDelta: SignedDelta?
        for item in items {
            switch item {
            case .snapshot(let signed):
                bases.received(signed)
                (newest, lastDelta) = (signed, nil)
                asking.withLockedValue { $0 = false }
            case .delta(let delta):
                // Until the whole snapshot comes, the old stream's deltas are passed over.
                if asking.withLockedValue({ $0 }) { continue }
                do {
                    try bases.apply(delta)
                    (newest, lastDelta) = (nil, delta)
                    logger.debug(
                        "delta applied",
                        metadata: ["base_version": "\(delta.baseVersion)", "version": "\(delta.version)", "changes": "\(delta.delta.changes.count)"])
                } catch {
                    askForSnapshot(delta, reason: error.description, asking: asking)
                }
            case .tooLarge(let version, let hash, let epoch, let bytes):
                let reason =
                    "snapshot \(version) is \(bytes) bytes, over this data plane's limit of \(client.maxFrameBytes) (--cluster-max-frame-size, GATEHOUSE_CLUSTER_MAX_FRAME_SIZE); the last good config keeps serving"
                logger.error("config rejected; the last good config keeps serving", metadata: ["version": "\(version)", "reason": "\(reason)"])
                embedded.state.rejected(version: version, hash: hash, reason: reason)
                await client.report(.init(nodeID: nodeID, kind: .rejected, version: version, hash: hash, epoch: epoch, reason: reason))
            case .heartbeat:
                break
            }
        }
        if let delta = lastDelta, !asking.withLockedValue({ $0 }) {
            do {
                newest = try bases.signedSnapshot(delta)
            } catch {
                askForSnapshot(delta, reason: error.description, asking: asking)
            }
        }
        guard let newest else { return }
        if await settle(newest) { bases.served() }
    }

    /// `asking` is true from then until the whole snapshot comes.
    private func askForSnapshot(_ delta: SignedDelta, reason: String, asking: NIOLockedValueBox<Bool>) {
        logger.warning(
            "cannot apply the control plane's delta; asking it for the whole snapshot",
            metadata: ["base_version": "\(delta.baseVersion)", "version": "\(delta.version)", "reason": "\(reason)"])
        asking.withLockedValue { $0 = true }
        client.reconnect()
    }

    /// Applies one snapshot; true when it is served now.
    private func settle(_ signed: SignedSnapshot) async -> Bool {
        let snapshot = signed.snapshot
        let before = embedded.state.current
        let epoch = servedEpoch.withLockedValue { $0 }
        let newEpoch = epoch != signed.epoch
        await embedded.applier.prepare(snapshot)
        if let reason = await embedded.applier.applyOffLoop(snapshot, replacingNewer: newEpoch) {
            await client.report(
                .init(nodeID: nodeID, kind: .rejected, version: snapshot.version, hash: snapshot.hash, epoch: signed.epoch, reason: reason))
            return false
        }
        let current = embedded.state.current
        // Passed over (an older version of the epoch served): neither cached nor acknowledged.
        guard current.version == snapshot.version, current.hash == snapshot.hash else { return false }
        if newEpoch, let previous = before.version, previous != snapshot.version || before.hash != snapshot.hash {
            logger.notice(
                "the control plane's history started again (a new epoch); serving the version it says is current",
                metadata: [
                    "epoch": "\(signed.epoch)", "previous_epoch": "\(epoch ?? "none")", "version": "\(snapshot.version)",
                    "previous_version": "\(previous)",
                ])
        }
        servedEpoch.withLockedValue { $0 = signed.epoch }
        do {
            try cache.store(signed)
        } catch {
            logger.error("cannot write the snapshot cache", metadata: ["error": "\(error)"])
        }
        await client.report(.init(nodeID: nodeID, kind: .applied, version: snapshot.version, hash: snapshot.hash, epoch: signed.epoch))
        return true
    }
}
