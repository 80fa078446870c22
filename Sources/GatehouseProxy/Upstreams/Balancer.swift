import Atomics
import Foundation
import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// Chooses a target index for each request. Immutable apart from one atomic rotation counter, so
/// every event loop can share it.
final class Balancer: Sendable {
    /// What a `consistent-hash` balancer hashes, taken from the request.
    struct RequestKey {
        var clientIP: String
        var path: String
        var headers: RequestFields = [:]
    }

    let algorithm: Upstream.Algorithm
    let hashOn: Upstream.HashOn?
    private let weights: [Int]
    /// For `weighted`: a smooth weighted round-robin order of target indices, one cycle long.
    private let schedule: [Int32]
    private let counter = ManagedAtomic<Int>(0)

    init(algorithm: Upstream.Algorithm, hashOn: Upstream.HashOn?, weights: [Int]) {
        self.algorithm = algorithm
        self.hashOn = hashOn
        self.weights = weights
        schedule = algorithm == .weighted ? Self.smoothSchedule(weights) : []
    }

    /// - Parameters:
    ///   - excluding: targets already tried by this request.
    ///   - active: open requests per target on this event loop (for `least-connections`).
    func pick(excluding: TargetSet = [], key: RequestKey, active: (Int) -> Int) -> Int? {
        let count = weights.count
        guard excluding.count < count else { return nil }
        switch algorithm {
        case .roundRobin:
            let start = counter.loadThenWrappingIncrement(ordering: .relaxed)
            return (0..<count).lazy.map { (start &+ $0) % count }.map { $0 < 0 ? $0 + count : $0 }.first { !excluding.contains($0) }
        case .weighted:
            let start = counter.loadThenWrappingIncrement(ordering: .relaxed)
            for step in 0..<schedule.count {
                let slot = (start &+ step) % schedule.count
                let index = Int(schedule[slot < 0 ? slot + schedule.count : slot])
                if !excluding.contains(index) { return index }
            }
            return nil
        case .leastConnections:
            let start = counter.loadThenWrappingIncrement(ordering: .relaxed)
            var best: (index: Int, load: Double)?
            for step in 0..<count {
                let index = ((start &+ step) % count + count) % count
                guard !excluding.contains(index) else { continue }
                let load = Double(active(index) + 1) / Double(weights[index])
                if best == nil || load < best!.load { best = (index, load) }
            }
            return best?.index
        case .consistentHash:
            let text: String
            switch hashOn {
            case .ip, nil: text = key.clientIP
            case .path: text = key.path
            case .header(let name): text = key.headers.first(name: name) ?? key.clientIP
            }
            // Weighted rendezvous hashing: a target leaving moves only the keys that were on it.
            var best: (index: Int, score: Double)?
            for index in 0..<count where !excluding.contains(index) {
                let hash = Self.fnv1a(text, salt: UInt64(index))
                let unit = (Double(hash >> 11) + 0.5) / Double(1 << 53)
                let score = -Double(weights[index]) / log(unit)
                if best == nil || score > best!.score { best = (index, score) }
            }
            return best?.index
        }
    }

    static func fnv1a(_ text: String, salt: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ (salt &* 0x9E37_79B9_7F4A_7C15)
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        // A final mix so nearby salts give unrelated results.
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }

    /// nginx's smooth weighted round-robin, run for one cycle of the reduced weights.
    static func smoothSchedule(_ weights: [Int]) -> [Int32] {
        guard !weights.isEmpty else { return [] }
        let divisor = weights.reduce(0) { gcd($0, $1) }
        let reduced = weights.map { $0 / max(divisor, 1) }
        let total = reduced.reduce(0, +)
        var current = [Int](repeating: 0, count: reduced.count)
        var schedule: [Int32] = []
        schedule.reserveCapacity(total)
        for _ in 0..<total {
            var best = 0
            for index in reduced.indices {
                current[index] += reduced[index]
                if current[index] > current[best] { best = index }
            }
            current[best] -= total
            schedule.append(Int32(best))
        }
        return schedule
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
