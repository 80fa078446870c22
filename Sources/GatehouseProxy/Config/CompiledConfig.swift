import Atomics
import GatehouseModel

/// A snapshot compiled for serving: the route table and everything it points to. Immutable and
/// `Sendable`; a request loads it once at its head and keeps it to the end.
public final class CompiledConfig: Sendable, AtomicReference {
    public let version: Int
    public let hash: String
    public let routes: RouteTable
    /// Indexed by `CompiledRoute.upstream`.
    let upstreams: [CompiledUpstream]
    /// The names its upstreams' targets need resolved.
    let questions: Set<TargetDiscovery.Question>
    /// Where its policies count what they decide.
    let policyMetrics: PolicyMetrics
    /// The document it was compiled from, so the next one compiles only what changed.
    let document: ConfigDocument
    /// What the TLS listener presents, by SNI.
    let certificates: CertificateTable

    init(
        version: Int, hash: String, routes: RouteTable, upstreams: [CompiledUpstream], questions: Set<TargetDiscovery.Question>,
        policyMetrics: PolicyMetrics, document: ConfigDocument, certificates: CertificateTable
    ) {
        self.document = document
        self.certificates = certificates
        self.version = version
        self.hash = hash
        self.routes = routes
        self.upstreams = upstreams
        self.questions = questions
        self.policyMetrics = policyMetrics
    }

    /// The same routes under another version, or with other upstreams (new addresses).
    func with(version: Int, hash: String, upstreams: [CompiledUpstream]? = nil) -> CompiledConfig {
        CompiledConfig(
            version: version, hash: hash, routes: routes, upstreams: upstreams ?? self.upstreams, questions: questions, policyMetrics: policyMetrics,
            document: document, certificates: certificates)
    }

    /// The certificates' expiry, for the status port's `/metrics`.
    public var certificateMetrics: String { certificates.prometheusText }

    /// Upstream name → the endpoints requests go to now, for the status port.
    public var endpointsByUpstream: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: upstreams.map { ($0.name, .array($0.endpoints.map { .string($0.description) })) }))
    }
}
