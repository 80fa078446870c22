import NIOConcurrencyHelpers

/// The counters of one `local` rate limit on this data plane, shared by its event loops. All its
/// keys share the policy's fixed window, so when a new window starts every count is dropped at
/// once: memory stays bounded by the keys seen in one window, with no sweeper.
///
/// Lives outside snapshots, in `PolicyState`, keyed by policy id and config hash: an unchanged
/// policy keeps its counts across snapshot swaps.
final class LocalCounters: Sendable {
    private struct Window {
        var id: Int64 = -1
        var counts: [String: Int] = [:]
    }

    private let window = NIOLockedValueBox(Window())

    /// Counts one more request for `key` in window `windowID` and returns the count so far.
    func increment(_ key: String, windowID: Int64) -> Int {
        window.withLockedValue { window in
            if window.id != windowID {
                // Only ever forward: a late request from an older window counts in the current one.
                if windowID > window.id {
                    window.id = windowID
                    window.counts.removeAll(keepingCapacity: true)
                }
            }
            let count = (window.counts[key] ?? 0) + 1
            window.counts[key] = count
            return count
        }
    }

    /// The count of `key` in window `windowID`, without counting.
    func count(_ key: String, windowID: Int64) -> Int {
        window.withLockedValue { window in window.id == windowID ? window.counts[key] ?? 0 : 0 }
    }

    /// Takes back one count of `key` in window `windowID` (a request another limit refused);
    /// nothing once that window is over.
    func decrement(_ key: String, windowID: Int64) {
        window.withLockedValue { window in
            guard window.id == windowID, let count = window.counts[key], count > 0 else { return }
            window.counts[key] = count - 1
        }
    }
}
