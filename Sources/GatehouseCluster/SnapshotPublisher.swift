import Foundation
import GatehouseModel
import Synchronization

/// Hands each committed snapshot to every subscriber (the embedded data plane of `serve`, the
/// cluster endpoint's streams). Each subscriber keeps only the newest snapshot it has not consumed
/// yet, so a burst of versions coalesces and a slow subscriber never queues compilations. Each
/// snapshot goes with the epoch of the history it belongs to (`ConfigStore.startEpoch`): until one
/// is published, a random one made at init. Thread-safe.
public final class SnapshotPublisher: Sendable {
    /// A snapshot with the epoch it was published under.
    public struct Published: Sendable {
        public let snapshot: Snapshot
        public let epoch: String
    }

    private struct Inner {
        var epoch: String
        var latest: Snapshot?
        var subscribers: [Int: @Sendable (Published) -> Void] = [:]
        var observers: [@Sendable (Published) -> Void] = []
        var nextID = 0
        /// When the latest versions were published (committed), newest last.
        var published: [(version: Int, at: ContinuousClock.Instant)] = []
    }

    private let inner = Mutex(Inner(epoch: UUID().uuidString.lowercased()))

    public init() {}

    /// The epoch snapshots are published under now.
    public var epoch: String { inner.withLock { $0.epoch } }

    /// Publishes a committed snapshot, under `epoch` when given (a writer that just opened the
    /// database, or a standby following a writer that did), else under the current one. Call in
    /// version order within an epoch.
    public func publish(_ snapshot: Snapshot, epoch: String? = nil) {
        let now = ContinuousClock.now
        let (observers, subscribers, published) = inner.withLock { inner in
            if let epoch { inner.epoch = epoch }
            inner.latest = snapshot
            inner.published.append((snapshot.version, now))
            if inner.published.count > 64 { inner.published.removeFirst() }
            return (inner.observers, Array(inner.subscribers.values), Published(snapshot: snapshot, epoch: inner.epoch))
        }
        for observer in observers { observer(published) }
        for subscriber in subscribers { subscriber(published) }
    }

    /// Calls `observer` with the latest snapshot (if any) and then with every snapshot published,
    /// in order, each before any subscriber hears of it (on the publishing thread: it must be quick).
    public func observe(_ observer: @escaping @Sendable (Published) -> Void) {
        inner.withLock { inner in
            inner.observers.append(observer)
            if let latest = inner.latest { observer(Published(snapshot: latest, epoch: inner.epoch)) }
        }
    }

    /// When `version` was published, if it is one of the latest 64.
    public func publishedAt(version: Int) -> ContinuousClock.Instant? {
        inner.withLock { inner in inner.published.last { $0.version == version }?.at }
    }

    /// A stream that starts with the latest snapshot (if any) and then yields each new one,
    /// dropping older ones a slow reader has not taken yet.
    public func subscribe() -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = register { continuation.yield($0.snapshot) }
        continuation.onTermination = { [weak self] _ in self?.unregister(id) }
        return stream
    }

    /// `subscribe()` with each snapshot's epoch.
    public func subscribeWithEpochs() -> AsyncStream<Published> {
        let (stream, continuation) = AsyncStream.makeStream(of: Published.self, bufferingPolicy: .bufferingNewest(1))
        let id = register { continuation.yield($0) }
        continuation.onTermination = { [weak self] _ in self?.unregister(id) }
        return stream
    }

    private func register(_ yield: @escaping @Sendable (Published) -> Void) -> Int {
        inner.withLock { inner in
            let id = inner.nextID
            inner.nextID += 1
            inner.subscribers[id] = yield
            if let latest = inner.latest { yield(Published(snapshot: latest, epoch: inner.epoch)) }
            return id
        }
    }

    private func unregister(_ id: Int) {
        inner.withLock { _ = $0.subscribers.removeValue(forKey: id) }
    }
}
