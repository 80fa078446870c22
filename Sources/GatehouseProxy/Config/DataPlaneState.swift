import Foundation
import GatehouseModel
import Synchronization

/// What the data plane serves and what it last refused, for the status port and for callers that
/// wait until a version is live. Thread-safe.
public final class DataPlaneState: Sendable {
    public struct Rejection: Sendable {
        public let version: Int
        public let hash: String
        public let reason: String
    }

    public struct Current: Sendable {
        public var version: Int?
        public var hash: String?
        public var routes = 0
        public var lastRejection: Rejection?
        public var draining = false
        /// When the served config was applied, and how long compiling and swapping it in took.
        public var appliedAt: Date?
        public var applySeconds = 0.0
        /// Snapshots applied and refused since the process started.
        public var applied = 0
        public var rejected = 0
    }

    private struct Inner {
        var current = Current()
        var waiters: [(version: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let inner = Mutex(Inner())
    public let startedAt = Date()

    public init() {}

    public var current: Current { inner.withLock { $0.current } }

    /// Ready once a snapshot is applied, and until draining starts.
    public var isReady: Bool { inner.withLock { $0.current.version != nil && !$0.current.draining } }

    func applied(_ config: CompiledConfig, seconds: Double = 0) {
        settle { current in
            current.version = config.version
            current.hash = config.hash
            current.routes = config.routes.routeCount
            current.appliedAt = Date()
            current.applySeconds = seconds
            current.applied += 1
        }
    }

    /// Records a snapshot refused: by the applier, or before it was offered (a control plane
    /// starting on a database whose newest version cannot be served).
    public func rejected(_ snapshot: Snapshot, reason: String) {
        rejected(version: snapshot.version, hash: snapshot.hash, reason: reason)
    }

    /// Records a version refused before it was read (a cluster frame over the data plane's limit).
    public func rejected(version: Int, hash: String, reason: String) {
        settle { current in
            current.lastRejection = Rejection(version: version, hash: hash, reason: reason)
            current.rejected += 1
        }
    }

    public func startDraining() {
        inner.withLock { $0.current.draining = true }
    }

    /// Returns once version `version` or later was applied or refused.
    public func waitUntilSettled(version: Int) async {
        await withCheckedContinuation { continuation in
            let done = inner.withLock { inner -> Bool in
                if inner.current.settledVersion >= version { return true }
                inner.waiters.append((version, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func settle(_ change: (inout Current) -> Void) {
        let ready = inner.withLock { inner -> [CheckedContinuation<Void, Never>] in
            change(&inner.current)
            let settled = inner.current.settledVersion
            let ready = inner.waiters.filter { $0.version <= settled }.map(\.continuation)
            inner.waiters.removeAll { $0.version <= settled }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }
}

extension DataPlaneState.Current {
    /// The newest version this data plane has decided on, served or refused.
    var settledVersion: Int { max(version ?? -1, lastRejection?.version ?? -1) }
}
