import GatehouseModel
import NIOSSL
import Synchronization

/// The checks a data plane makes before it serves a document beyond the model's validation:
/// TLS material must load, every enabled policy must be of a type this build enforces. The
/// control plane runs them on each document before committing it (`ConfigStore`'s `admit`), so
/// a version no data plane could serve is refused with a 400 instead of being committed, and
/// every later version with it. Thread-safe.
public final class ConfigAdmission: Sendable {
    /// The TLS settings of the last admitted document: a write that leaves an upstream's TLS as
    /// it was does not load its certificates again.
    private let loadedTLS = Mutex<Set<Upstream.TLS>>([])
    /// The certificates of the last admitted document, loaded as a data plane loads them.
    private let loadedCertificates = Mutex<[TLSCertificate]>([])
    private let sealer: KeySealer?

    /// - Parameter sealer: what the data planes open certificate keys with; the control plane
    ///   holds the same `GATEHOUSE_SECRET_KEY`.
    public init(sealer: KeySealer? = nil) {
        self.sealer = sealer
    }

    public func check(_ document: ConfigDocument) throws(ConfigError) {
        try Self.checkPolicies(document)
        if !document.certificates.isEmpty, loadedCertificates.withLock({ $0 }) != document.certificates {
            do {
                _ = try CertificateTable(document.certificates, sealer: sealer)
            } catch {
                throw .invalid(error.description, field: "certificates")
            }
        }
        loadedCertificates.withLock { $0 = document.certificates }
        let known = loadedTLS.withLock { $0 }
        var loaded = Set<Upstream.TLS>()
        for upstream in document.upstreams where upstream.scheme == .https {
            if !known.contains(upstream.tls), !loaded.contains(upstream.tls) {
                do {
                    _ = try CompiledUpstream.tlsContext(upstream.tls)
                } catch {
                    throw .invalid(
                        "upstream '\(upstream.name)': its TLS settings cannot be loaded: \(error)",
                        field: upstream.tls.caCertificates == nil ? "tls" : "tls.ca_certificates")
                }
            }
            loaded.insert(upstream.tls)
        }
        loadedTLS.withLock { $0 = loaded }
    }

    /// Fail closed: a policy this data plane cannot enforce or build refuses the whole document.
    static func checkPolicies(_ document: ConfigDocument) throws(ConfigError) {
        for policy in document.policies where policy.enabled {
            guard PolicyCatalog.enforcedTypes.contains(policy.type) else {
                throw .invalid("policy '\(policy.name)' of type \(policy.type.rawValue) cannot be enforced by this data plane", field: "type")
            }
            do {
                try policy.type.validate(policy.config)
            } catch {
                throw .invalid("policy '\(policy.name)' cannot be built: \(error.field.map { "\($0): " } ?? "")\(error.message)", field: "config")
            }
            // A key the model's rules let through may still not be one (a modulus too short, a
            // point off its curve): refused here, not by every data plane.
            if policy.type == .jwt {
                do {
                    _ = try JWTPolicy.keys(policy.config)
                } catch {
                    throw .invalid("policy '\(policy.name)' cannot be built: \(error.description)", field: "config.keys")
                }
            }
        }
    }
}
