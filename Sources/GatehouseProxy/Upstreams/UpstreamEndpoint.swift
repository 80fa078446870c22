import GatehouseModel
import NIOCore

/// One place a request can be sent: a target given as an address, or one address a target's DNS
/// name resolved to.
struct UpstreamEndpoint: Sendable, Hashable {
    /// What to connect to: an IP address; a DNS name only while discovery has no answer for it
    /// (NIO then resolves it when connecting).
    let host: String
    let port: Int
    let weight: Int
    /// The name the address came from, if any: the `Host` sent upstream and, for https, the SNI
    /// and the name the certificate must hold.
    let name: String?

    /// The `Host` header for this endpoint: its name, or its address; no port for 80. Made once
    /// per snapshot, not per request.
    let authority: String
    /// `Host: authority` and the empty line, which end the head of a request sent here.
    let hostLine: ByteBuffer

    init(host: String, port: Int, weight: Int, name: String?) {
        self.host = host
        self.port = port
        self.weight = weight
        self.name = name
        let shown = name ?? host
        authority = port == 80 ? RequestTarget.bracketed(shown) : UpstreamTarget(host: shown, port: port).target
        hostLine = ByteBuffer(string: "host: \(authority)\r\n\r\n")
    }

    /// `host:port` of the address, bracketed for IPv6.
    var address: String { UpstreamTarget(host: host, port: port).target }

    /// "10.0.0.5:8080" or "10.0.0.5:8080 (api.internal)", for logs, status and health keys.
    var description: String { name.map { "\(address) (\($0))" } ?? address }

    /// The endpoints of an upstream's targets, given the discovery answers known now.
    static func expand(_ targets: [UpstreamTarget], answers: [TargetDiscovery.Question: [TargetDiscovery.Address]]) -> [UpstreamEndpoint] {
        var endpoints: [UpstreamEndpoint] = []
        for target in targets where target.weight > 0 {
            if target.isIPAddress {
                endpoints.append(UpstreamEndpoint(host: target.host, port: target.port, weight: target.weight, name: nil))
            } else if let addresses = answers[TargetDiscovery.Question(target)] {
                for found in addresses {
                    let endpoint = UpstreamEndpoint(
                        host: found.address, port: found.port ?? target.port, weight: found.weight ?? target.weight, name: found.name)
                    if !endpoints.contains(endpoint) { endpoints.append(endpoint) }
                }
            } else if !target.isService {
                endpoints.append(UpstreamEndpoint(host: target.host, port: target.port, weight: target.weight, name: target.host))
            }
        }
        return endpoints
    }
}
