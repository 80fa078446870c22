import GatehouseModel

/// A policy compiled into a route's chain. Each type runs in its `PolicyPhase`; chains are built
/// per route when a snapshot is compiled, never looked up per request.
///
/// This data plane ships no policy implementations yet. `ConfigCompiler` therefore refuses any
/// snapshot with an enabled policy (fail closed: traffic is never served without a policy it
/// should have), and the admin API refuses to enable one (see `PolicyCatalog`).
public protocol ProxyPolicy: Sendable {
    var phase: PolicyPhase { get }
}

/// The policy types this data plane can enforce. The control plane admits enabled policies of
/// these types only, so it never commits a snapshot its data planes must refuse.
public enum PolicyCatalog {
    public static let enforcedTypes: Set<PolicyType> = []
}
