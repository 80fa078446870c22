import Atomics
import GatehouseModel
import NIOCore

/// An upstream ready to serve: its targets, timeouts and balancer. Shared by all event loops.
public final class CompiledUpstream: Sendable {
    public let name: String
    let targets: [UpstreamTarget]
    let connectTimeout: TimeAmount
    let readTimeout: TimeAmount
    let writeTimeout: TimeAmount
    let retries: Int
    let balancer: Balancer
    /// Passive health: failures that eject a target, and for how long; nil when off.
    let passiveHealth: (failures: Int, cooldown: TimeAmount)?
    /// `TargetHealth` keys, by target index.
    let healthKeys: [String]

    init(_ upstream: Upstream) {
        name = upstream.name
        targets = upstream.targets.filter { $0.weight > 0 }
        connectTimeout = .milliseconds(upstream.timeouts.connect.milliseconds)
        readTimeout = .milliseconds(upstream.timeouts.read.milliseconds)
        writeTimeout = .milliseconds(upstream.timeouts.write.milliseconds)
        retries = upstream.retries
        balancer = Balancer(algorithm: upstream.algorithm, hashOn: upstream.hashOn, targets: targets)
        passiveHealth = upstream.passiveHealth.map { ($0.failures, .milliseconds($0.cooldown.milliseconds)) }
        healthKeys = targets.map { TargetHealth.key(upstream.name, $0.target) }
    }
}
