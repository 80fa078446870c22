import Atomics
import GatehouseModel

/// A snapshot compiled for serving: the route table and everything it points to. Immutable and
/// `Sendable`; a request loads it once at its head and keeps it to the end.
public final class CompiledConfig: Sendable, AtomicReference {
    public let version: Int
    public let hash: String
    public let routes: RouteTable
    /// By name.
    let upstreams: [String: CompiledUpstream]

    init(version: Int, hash: String, routes: RouteTable, upstreams: [String: CompiledUpstream]) {
        self.version = version
        self.hash = hash
        self.routes = routes
        self.upstreams = upstreams
    }
}
