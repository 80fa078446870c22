import ArgumentParser
import Foundation
import GatehouseProxy
import NIOCore

/// Comma-separated name servers, `address` or `address:port` (`[v6]:port`): `10.0.0.2,127.0.0.1:8600`.
/// Empty means the name servers of `/etc/resolv.conf`.
struct NameServerList: ExpressibleByArgument, CustomStringConvertible {
    let servers: [SocketAddress]

    init(servers: [SocketAddress]) {
        self.servers = servers
    }

    init?(_ text: String) {
        var servers: [SocketAddress] = []
        for part in text.split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            if let server = try? SocketAddress(ipAddress: item, port: 53) {
                servers.append(server)
            } else if let listen = ListenAddress(item), listen.port > 0, let server = try? SocketAddress(ipAddress: listen.host, port: listen.port) {
                servers.append(server)
            } else {
                return nil
            }
        }
        self.servers = servers
    }

    init?(argument: String) {
        self.init(argument)
    }

    var description: String { servers.isEmpty ? "the name servers of /etc/resolv.conf" : servers.map { "\($0)" }.joined(separator: ",") }
}
