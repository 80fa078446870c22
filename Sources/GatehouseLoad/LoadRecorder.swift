import NIOCore

/// Latencies of the answers that came back inside the measured window. Used from the one event
/// loop that runs the load.
final class LoadRecorder {
    private let start: NIODeadline
    private(set) var latencies: [Int64] = []
    private(set) var errors = 0

    /// - Parameter start: answers to requests planned before it (the warm-up) are not kept.
    init(start: NIODeadline) {
        self.start = start
        latencies.reserveCapacity(1 << 20)
    }

    func record(_ latency: TimeAmount, at planned: NIODeadline) {
        if planned >= start { latencies.append(latency.nanoseconds) }
    }

    func failed() { errors += 1 }

    /// The latency under which `fraction` of the answers came, in microseconds.
    func percentile(_ fraction: Double, sorted: [Int64]) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
        return Double(sorted[max(0, index)]) / 1000
    }
}
