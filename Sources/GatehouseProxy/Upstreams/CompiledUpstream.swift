import Atomics
import GatehouseModel
import NIOCore
import NIOSSL

/// An upstream ready to serve: its endpoints, timeouts, balancer and, for `https`, its TLS
/// context (built once per snapshot, off the event loops). Shared by all event loops. When
/// discovery resolves a target's name to other addresses, a new one replaces it.
public final class CompiledUpstream: Sendable {
    /// The entity it was compiled from, to compile it again with new addresses.
    let source: Upstream
    public var name: String { source.name }
    /// Where requests go, by index (the balancer picks an index).
    let endpoints: [UpstreamEndpoint]
    let connectTimeout: TimeAmount
    let readTimeout: TimeAmount
    let writeTimeout: TimeAmount
    /// Other targets tried after a request was sent (idempotent methods only): `retries`, none by default.
    var retries: Int { source.retries ?? 0 }
    /// Other targets tried after a connect failed: `retries`, or every other target by default.
    var connectRetries: Int { source.retries ?? (endpoints.count - 1) }
    let balancer: Balancer
    /// Passive health: failures that eject a target, and for how long; nil when off.
    let passiveHealth: (failures: Int, cooldown: TimeAmount)?
    /// Active health probes; nil when off.
    var activeHealth: Upstream.ActiveHealth? { source.activeHealth }
    /// `TargetHealth` keys, by endpoint index.
    let healthKeys: [String]
    /// Whether some health check can take targets out of rotation.
    var checksHealth: Bool { passiveHealth != nil || activeHealth != nil }
    /// Connection pool keys, by endpoint index: scheme, address, name and TLS settings, so
    /// connections are only reused under the settings they were made with.
    let poolKeys: [String]
    /// For `https`: the context, and the name to send as SNI and verify, by endpoint index.
    let tls: (context: NIOSSLContext, serverNames: [String?])?
    /// Where its requests and each endpoint's attempts are counted (`RequestMetrics`).
    let meterSlot: Int
    let targetSlots: [Int]

    init(_ upstream: Upstream, endpoints: [UpstreamEndpoint], reusingTLS previous: CompiledUpstream? = nil, meters: RequestMetrics) throws {
        meterSlot = meters.upstreamSlot(upstream.name)
        targetSlots = endpoints.map { meters.targetSlot(upstream: upstream.name, target: $0.description) }
        source = upstream
        self.endpoints = endpoints
        connectTimeout = .milliseconds(upstream.timeouts.connect.milliseconds)
        readTimeout = .milliseconds(upstream.timeouts.read.milliseconds)
        writeTimeout = .milliseconds(upstream.timeouts.write.milliseconds)
        balancer = Balancer(algorithm: upstream.algorithm, hashOn: upstream.hashOn, weights: endpoints.map(\.weight))
        passiveHealth = upstream.passiveHealth.map { ($0.failures, .milliseconds($0.cooldown.milliseconds)) }
        healthKeys = endpoints.map { TargetHealth.key(upstream.name, $0.description) }
        // A pooled https connection was verified under one TLS setting: only the same setting
        // may reuse it (the hash is in-process, as the pools are).
        let tlsIdentity = upstream.scheme == .https ? "|\(upstream.tls.hashValue)" : ""
        poolKeys = endpoints.map { "\(upstream.scheme.rawValue)://\($0.description)\(tlsIdentity)" }
        if upstream.scheme == .https {
            // SNI takes a DNS name, never an address.
            let names = endpoints.map { upstream.tls.serverName ?? $0.name }
            if let previous, previous.source.tls == upstream.tls, let context = previous.tls?.context {
                tls = (context, names)
                return
            }
            tls = (try Self.tlsContext(upstream.tls), names)
        } else {
            tls = nil
        }
    }

    /// The client TLS context of an https upstream's settings.
    static func tlsContext(_ settings: Upstream.TLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = settings.verify ? .fullVerification : .none
        if let pem = settings.caCertificates {
            configuration.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))]
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
