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
/// refused one is reported with its reason. A heartbeat report goes out every heartbeat interval.
struct RemoteSnapshotFeed: Service {
    let nodeID: String
    let client: ControlPlaneClient
    let cache: SnapshotCache
    let embedded: EmbeddedDataPlane
    /// The epoch of the snapshot served, if any.
    let servedEpoch: NIOLockedValueBox<String?>
    let logger: Logger

    func run() async {
        let (snapshots, continuation) = AsyncStream.makeStream(of: SignedSnapshot.self, bufferingPolicy: .bufferingNewest(1))
        let (nodeID, client, state, servedEpoch, applier) = (nodeID, client, embedded.state, servedEpoch, embedded.applier)
        let hello: @Sendable () -> ClusterProtocol.Hello = {
            let current = state.current
            return ClusterProtocol.Hello(
                nodeID: nodeID, hostname: ProcessInfo.processInfo.hostName, gatehouseVersion: GatehouseVersion.current,
                policyTypes: PolicyCatalog.enforcedTypes.map(\.rawValue).sorted(), configVersion: current.version, configHash: current.hash,
                configEpoch: current.version == nil ? nil : servedEpoch.withLockedValue { $0 })
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run(hello: hello) { continuation.yield($0) } }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(ClusterProtocol.heartbeatSeconds))
                        let current = state.current
                        let epoch = current.version == nil ? nil : servedEpoch.withLockedValue { $0 }
                        await client.report(.init(nodeID: nodeID, kind: .heartbeat, version: current.version, hash: current.hash, epoch: epoch))
                    }
                }
                group.addTask { await applier.keepAddressesFresh() }
                for await signed in snapshots { await settle(signed) }
                group.cancelAll()
            }
        }
    }

    private func settle(_ signed: SignedSnapshot) async {
        let snapshot = signed.snapshot
        let before = embedded.state.current
        let epoch = servedEpoch.withLockedValue { $0 }
        let newEpoch = epoch != signed.epoch
        await embedded.applier.prepare(snapshot)
        if let reason = embedded.applier.apply(snapshot, replacingNewer: newEpoch) {
            await client.report(.init(nodeID: nodeID, kind: .rejected, version: snapshot.version, hash: snapshot.hash, epoch: signed.epoch, reason: reason))
            return
        }
        let current = embedded.state.current
        // Passed over (an older version of the epoch served): neither cached nor acknowledged.
        guard current.version == snapshot.version, current.hash == snapshot.hash else { return }
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
    }
}
