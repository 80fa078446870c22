import NIOCore
import Synchronization

/// Slows down guessing: an address that failed admin authentication `limit` times within
/// `window` gets 429 until the window ends, without its tokens being checked. Keeps at most
/// `capacity` addresses; when full, addresses whose window ended go first, then the oldest.
final class AdminFailureThrottle: Sendable {
    private struct Entry {
        var failures: Int
        let since: NIODeadline
    }

    let limit: Int
    let window: TimeAmount
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(limit: Int = 10, window: TimeAmount = .seconds(60), capacity: Int = 10_000) {
        self.limit = limit
        self.window = window
        self.capacity = capacity
    }

    /// The seconds until `address` may try again, nil when it may now.
    func blocked(_ address: String, now: NIODeadline = .now()) -> Int? {
        entries.withLock { entries in
            guard let entry = entries[address] else { return nil }
            let end = entry.since + window
            guard now < end else {
                entries[address] = nil
                return nil
            }
            guard entry.failures >= limit else { return nil }
            return max(1, Int((end - now).nanoseconds / 1_000_000_000))
        }
    }

    /// Counts a failure of `address`.
    func failed(_ address: String, now: NIODeadline = .now()) {
        entries.withLock { entries in
            if var entry = entries[address], now < entry.since + window {
                entry.failures += 1
                entries[address] = entry
                return
            }
            if entries.count >= capacity {
                entries = entries.filter { now < $0.value.since + window }
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.since < $1.value.since }) { entries[oldest.key] = nil }
            }
            entries[address] = Entry(failures: 1, since: now)
        }
    }
}
