import GatehouseModel
import ServiceLifecycle

/// Runs a `SnapshotApplier` over a snapshot source for the life of the service group.
public struct SnapshotFeed<Source: AsyncSequence & Sendable>: Service where Source.Element == Snapshot, Source.Failure == Never {
    let applier: SnapshotApplier
    let source: Source

    public init(applier: SnapshotApplier, source: Source) {
        self.applier = applier
        self.source = source
    }

    public func run() async {
        await cancelWhenGracefulShutdown { await applier.run(source) }
    }
}
