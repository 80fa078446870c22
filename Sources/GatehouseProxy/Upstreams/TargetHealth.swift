import NIOConcurrencyHelpers
import NIOCore

/// Health of upstream targets, passive and active, shared by every event loop and kept across
/// snapshot swaps: keyed by upstream name and target, so a target keeps its record while its
/// upstream keeps its name. Thread-safe.
public final class TargetHealth: Sendable {
    private struct Record {
        var failures = 0
        var ejectedUntil: NIODeadline?
        /// Set by active probes: out of rotation until probes succeed again.
        var activelyDown = false

        var isEmpty: Bool { failures == 0 && ejectedUntil == nil && !activelyDown }
    }

    private let records = NIOLockedValueBox<[String: Record]>([:])

    public init() {}

    static func key(_ upstream: String, _ target: String) -> String { "\(upstream)|\(target)" }

    func isHealthy(_ key: String, now: NIODeadline) -> Bool {
        records.withLockedValue { records in
            guard var record = records[key] else { return true }
            if let until = record.ejectedUntil, until <= now {
                record.ejectedUntil = nil
                records[key] = record.isEmpty ? nil : record
            }
            return record.ejectedUntil == nil && !record.activelyDown
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
            guard var record = records[key], record.failures != 0 else { return }
            record.failures = 0
            records[key] = record.isEmpty ? nil : record
        }
    }

    /// What active probes concluded about a target.
    func setActive(_ key: String, down: Bool) {
        records.withLockedValue { records in
            var record = records[key] ?? Record()
            guard record.activelyDown != down else { return }
            record.activelyDown = down
            records[key] = record.isEmpty ? nil : record
        }
    }

    /// Targets out of rotation now, as `upstream|host:port`, for the status port.
    public func ejected(now: NIODeadline = .now()) -> [String] {
        records.withLockedValue { records in
            records.filter { $0.value.activelyDown || ($0.value.ejectedUntil ?? now) > now }.keys.sorted()
        }
    }
}

extension TargetHealth {
    /// Whether each target of the served config takes requests now, for `/metrics`.
    public func prometheusText(_ config: CompiledConfig?) -> String {
        var out = PrometheusText()
        out.family("gatehouse_upstream_target_healthy", "gauge", "1 when a target of the served config takes requests, 0 while health checks keep it out.")
        let now = NIODeadline.now()
        for upstream in config?.upstreams ?? [] {
            for (index, endpoint) in upstream.endpoints.enumerated() {
                out.sample(
                    "gatehouse_upstream_target_healthy", [("upstream", upstream.name), ("target", endpoint.description)],
                    isHealthy(upstream.healthKeys[index], now: now) ? 1 : 0)
            }
        }
        return out.text
    }
}
