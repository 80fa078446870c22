import GatehouseModel
import GatehouseProxy

extension ListenAddress {
    /// Whether the host is a loopback address or `localhost`, so plain HTTP to it never leaves the machine.
    var isLoopback: Bool {
        let host = host.lowercased()
        return host == "localhost" || IPRange("127.0.0.0/8")!.contains(host) || IPRange("::1/128")!.contains(host)
    }
}
