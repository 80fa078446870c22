import GatehouseModel
import Synchronization

/// Hands each committed snapshot to every subscriber (the embedded data plane today; remote data
/// planes through the cluster protocol later). Each subscriber keeps only the newest snapshot it
/// has not consumed yet, so a burst of versions coalesces and a slow subscriber never queues
/// compilations. Thread-safe.
public final class SnapshotPublisher: Sendable {
    private struct Inner {
        var latest: Snapshot?
        var subscribers: [Int: AsyncStream<Snapshot>.Continuation] = [:]
        var nextID = 0
        /// When the latest versions were published (committed), newest last.
        var published: [(version: Int, at: ContinuousClock.Instant)] = []
    }

    private let inner = Mutex(Inner())

    public init() {}

    /// Publishes a committed snapshot. Call in version order.
    public func publish(_ snapshot: Snapshot) {
        let now = ContinuousClock.now
        let subscribers = inner.withLock { inner in
            inner.latest = snapshot
            inner.published.append((snapshot.version, now))
            if inner.published.count > 64 { inner.published.removeFirst() }
            return Array(inner.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(snapshot) }
    }

    /// When `version` was published, if it is one of the latest 64.
    public func publishedAt(version: Int) -> ContinuousClock.Instant? {
        inner.withLock { inner in inner.published.last { $0.version == version }?.at }
    }

    /// A stream that starts with the latest snapshot (if any) and then yields each new one,
    /// dropping older ones a slow reader has not taken yet.
    public func subscribe() -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = inner.withLock { inner in
            let id = inner.nextID
            inner.nextID += 1
            inner.subscribers[id] = continuation
            if let latest = inner.latest { continuation.yield(latest) }
            return id
        }
        continuation.onTermination = { [weak self] _ in
            self?.inner.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }
}
