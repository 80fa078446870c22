import GatehouseCluster
import NIOConcurrencyHelpers

/// What the control plane's stream brought that the feed has not taken yet, in order: the stream
/// puts (on its event loop), the feed takes all there is each time it wakes. A whole snapshot makes
/// what came before it moot and drops it; deltas are kept, as each applies to the one before. Past
/// `maxItems` everything waiting is dropped: the next delta then names a base the feed does not
/// hold, and the feed asks for the whole snapshot. Thread-safe.
final class ClusterInbox: Sendable {
    static let maxItems = 4096
    private let items = NIOLockedValueBox<[ClusterProtocol.Incoming]>([])
    let wakes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (wakes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func put(_ incoming: ClusterProtocol.Incoming) {
        items.withLockedValue { items in
            if case .snapshot = incoming { items.removeAll() }
            if items.count >= Self.maxItems { items.removeAll() }
            items.append(incoming)
        }
        continuation.yield()
    }

    func take() -> [ClusterProtocol.Incoming] {
        items.withLockedValue { items in
            defer { items = [] }
            return items
        }
    }

    func finish() { continuation.finish() }
}
