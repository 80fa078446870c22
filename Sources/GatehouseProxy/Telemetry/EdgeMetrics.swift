import Atomics

/// Counters of what the proxy refused or cut that no request's answer shows, for `/metrics`.
/// Shared by every event loop of a data plane; each counts rare events, so an atomic add each
/// costs nothing on the request path.
public final class EdgeMetrics: Sendable {
    /// Upstream connections closed because bytes came that no request asked for: after a
    /// response's framing ended, or while the connection sat idle in the pool.
    let upstreamExcessBytes = ManagedAtomic(0)
    /// Responses refused because the upstream sent more informational (1xx) heads than allowed.
    let upstreamInformationalFlood = ManagedAtomic(0)
    /// Times accepting a connection failed for want of file descriptors (or memory), after
    /// which the listener paused accepting for a moment.
    let acceptFailures = ManagedAtomic(0)

    public init() {}

    func count(_ counter: KeyPath<EdgeMetrics, ManagedAtomic<Int>>) {
        self[keyPath: counter].wrappingIncrement(ordering: .relaxed)
    }

    func value(_ counter: KeyPath<EdgeMetrics, ManagedAtomic<Int>>) -> Int {
        self[keyPath: counter].load(ordering: .relaxed)
    }

    /// The Prometheus text of these counters.
    public var prometheusText: String {
        """
        # HELP gatehouse_upstream_connections_refused_total Upstream connections closed for what they sent, by reason.
        # TYPE gatehouse_upstream_connections_refused_total counter
        gatehouse_upstream_connections_refused_total{reason="excess_bytes"} \(upstreamExcessBytes.load(ordering: .relaxed))
        gatehouse_upstream_connections_refused_total{reason="informational_flood"} \(upstreamInformationalFlood.load(ordering: .relaxed))
        # HELP gatehouse_accept_failures_total Failed accepts of client connections (out of file descriptors or memory); accepting pauses after each.
        # TYPE gatehouse_accept_failures_total counter
        gatehouse_accept_failures_total \(acceptFailures.load(ordering: .relaxed))

        """
    }
}
