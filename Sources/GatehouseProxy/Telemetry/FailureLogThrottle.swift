import NIOCore

/// At most one log line per upstream and failure code per second on an event loop. An upstream
/// that is down under load fails every request; a line for each would be thousands of writes a
/// second from the event loop, slowing the requests that still succeed. The next line that is
/// let through says how many were left out.
struct FailureLogThrottle {
    static let window = TimeAmount.seconds(1)
    /// Keys kept before the ones past their window are let go (upstreams removed from the config
    /// would otherwise stay).
    static let pruneAbove = 1024

    private var keys: [String: (since: NIODeadline, suppressed: Int)] = [:]
    var keyCount: Int { keys.count }

    /// Nil when a line for `key` was written less than `window` ago (this one is counted);
    /// otherwise how many were left out since that line.
    mutating func admit(_ key: String, now: NIODeadline) -> Int? {
        if let entry = keys[key], now - entry.since < Self.window {
            keys[key]?.suppressed += 1
            return nil
        }
        let suppressed = keys[key]?.suppressed ?? 0
        if keys.count > Self.pruneAbove { keys = keys.filter { now - $0.value.since < Self.window } }
        keys[key] = (now, 0)
        return suppressed
    }
}
