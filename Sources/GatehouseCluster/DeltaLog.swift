import GatehouseModel
import Synchronization

/// The deltas between the latest published versions, each from the version published just before
/// it in the same epoch, so that a stream to a data plane one or a few versions behind sends what
/// changed instead of the whole snapshot. Fed by the publisher (`SnapshotPublisher.observe`) in
/// order; each delta is computed once, whatever the number of data planes. Keeps at most
/// `maxEntries` deltas and `maxBytes` of them; a new epoch, or a delta as large as its document,
/// starts the log again. Thread-safe.
final class DeltaLog: Sendable {
    struct Entry: Sendable {
        let baseVersion: Int
        let baseHash: String
        let version: Int
        let hash: String
        let delta: SnapshotDelta
    }

    private struct Inner {
        var epoch: String?
        var latest: Snapshot?
        var entries: [Entry] = []
        var bytes = 0
    }

    private let inner = Mutex(Inner())
    let maxEntries: Int
    let maxBytes: Int

    init(maxEntries: Int = 256, maxBytes: Int = 32 << 20) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    var count: Int { inner.withLock { $0.entries.count } }

    /// Takes the next published snapshot; the delta from the one before is computed outside the lock.
    func record(_ published: SnapshotPublisher.Published) {
        let snapshot = published.snapshot
        let previous = inner.withLock { inner -> Snapshot? in
            guard inner.epoch == published.epoch, let latest = inner.latest, latest.version < snapshot.version else { return nil }
            return latest
        }
        let delta = previous.map { SnapshotDelta(from: $0.document, to: snapshot.document) }
        inner.withLock { inner in
            if inner.epoch == published.epoch, let latest = inner.latest, latest.version == snapshot.version, latest.hash == snapshot.hash { return }
            if let previous, let delta, inner.latest?.version == previous.version, delta.byteCount < snapshot.canonicalJSON.count {
                inner.entries.append(
                    Entry(baseVersion: previous.version, baseHash: previous.hash, version: snapshot.version, hash: snapshot.hash, delta: delta))
                inner.bytes += delta.byteCount
                while inner.entries.count > maxEntries || inner.bytes > maxBytes {
                    inner.bytes -= inner.entries.removeFirst().delta.byteCount
                }
            } else {
                (inner.entries, inner.bytes) = ([], 0)
            }
            inner.epoch = published.epoch
            inner.latest = snapshot
        }
    }

    /// The delta from the document of `base` to `target`'s, both of `epoch`; nil when the log does
    /// not reach back to `base`, or when the delta would weigh as much as the whole document.
    func delta(from base: (version: Int, hash: String), to target: Snapshot, epoch: String) -> SnapshotDelta? {
        let chain = inner.withLock { inner -> ArraySlice<Entry>? in
            guard inner.epoch == epoch, let last = inner.entries.lastIndex(where: { $0.version == target.version && $0.hash == target.hash }) else {
                return nil
            }
            var first = last
            while inner.entries[first].baseVersion != base.version || inner.entries[first].baseHash != base.hash {
                guard first > 0, inner.entries[first - 1].version == inner.entries[first].baseVersion,
                    inner.entries[first - 1].hash == inner.entries[first].baseHash
                else { return nil }
                first -= 1
            }
            return inner.entries[first...last]
        }
        guard let chain else { return nil }
        var delta = chain.first!.delta
        for entry in chain.dropFirst() {
            delta = delta.followed(by: entry.delta)
            if delta.byteCount >= target.canonicalJSON.count { return nil }
        }
        return delta.byteCount < target.canonicalJSON.count ? delta : nil
    }
}
