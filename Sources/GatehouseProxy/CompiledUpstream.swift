import Atomics
import GatehouseModel
import NIOCore
import NIOSSL

/// An upstream ready to serve: its targets, timeouts, balancer and, for `https`, its TLS
/// context (built once per snapshot, off the event loops). Shared by all event loops.
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
    /// Active health probes; nil when off.
    let activeHealth: Upstream.ActiveHealth?
    /// `TargetHealth` keys, by target index.
    let healthKeys: [String]
    /// Whether some health check can take targets out of rotation.
    var checksHealth: Bool { passiveHealth != nil || activeHealth != nil }
    /// Connection pool keys, by target index: scheme, target and TLS settings, so connections are
    /// only reused under the settings they were made with.
    let poolKeys: [String]
    /// For `https`: the context and the name to send as SNI and verify, by target index.
    let tls: (context: NIOSSLContext, serverNames: [String?])?

    init(_ upstream: Upstream) throws {
        name = upstream.name
        targets = upstream.targets.filter { $0.weight > 0 }
        connectTimeout = .milliseconds(upstream.timeouts.connect.milliseconds)
        readTimeout = .milliseconds(upstream.timeouts.read.milliseconds)
        writeTimeout = .milliseconds(upstream.timeouts.write.milliseconds)
        retries = upstream.retries
        balancer = Balancer(algorithm: upstream.algorithm, hashOn: upstream.hashOn, targets: targets)
        passiveHealth = upstream.passiveHealth.map { ($0.failures, .milliseconds($0.cooldown.milliseconds)) }
        activeHealth = upstream.activeHealth
        healthKeys = targets.map { TargetHealth.key(upstream.name, $0.target) }
        // A pooled https connection was verified under one TLS setting: only the same setting
        // may reuse it (the hash is in-process, as the pools are).
        let tlsIdentity = upstream.scheme == .https ? "|\(upstream.tls.hashValue)" : ""
        poolKeys = targets.map { "\(upstream.scheme.rawValue)://\($0.target)\(tlsIdentity)" }
        if upstream.scheme == .https {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = upstream.tls.verify ? .fullVerification : .none
            if let pem = upstream.tls.caCertificates {
                configuration.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))]
            }
            // SNI takes a DNS name, never an address.
            let names = targets.map { target in
                upstream.tls.serverName ?? (target.host.contains(":") || target.host.allSatisfy { $0.isNumber || $0 == "." } ? nil : target.host)
            }
            tls = (try NIOSSLContext(configuration: configuration), names)
        } else {
            tls = nil
        }
    }
}
