import NIOConcurrencyHelpers
import NIOCore

/// Passive health of upstream targets, shared by every event loop and kept across snapshot
/// swaps: keyed by upstream name and target, so a target keeps its record while its upstream
/// keeps its name. Thread-safe.
public final class TargetHealth: Sendable {
    private struct Record {
        var failures = 0
        var ejectedUntil: NIODeadline?
    }

    private let records = NIOLockedValueBox<[String: Record]>([:])

    public init() {}

    static func key(_ upstream: String, _ target: String) -> String { "\(upstream)|\(target)" }

    func isHealthy(_ key: String, now: NIODeadline) -> Bool {
        records.withLockedValue { records in
            guard let until = records[key]?.ejectedUntil else { return true }
            if until > now { return false }
            records[key] = nil
            return true
        }
    }

    /// Counts a failed attempt; returns true when it takes the target out of rotation.
    func recordFailure(_ key: String, threshold: Int, cooldown: TimeAmount, now: NIODeadline) -> Bool {
        records.withLockedValue { records in
            var record = records[key] ?? Record()
            record.failures += 1
            let ejected = record.failures >= threshold
            if ejected {
                record.failures = 0
                record.ejectedUntil = now + cooldown
            }
            records[key] = record
            return ejected
        }
    }

    func recordSuccess(_ key: String) {
        records.withLockedValue { records in
            if records[key] != nil { records[key] = nil }
        }
    }

    /// Targets out of rotation now, as `upstream|host:port`, for the status port.
    public func ejected(now: NIODeadline = .now()) -> [String] {
        records.withLockedValue { records in
            records.filter { ($0.value.ejectedUntil ?? now) > now }.keys.sorted()
        }
    }
}
