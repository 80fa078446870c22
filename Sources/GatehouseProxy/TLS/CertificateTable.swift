import GatehouseModel
import NIOSSL

/// The certificates the TLS listener presents, by the name a client asks for (SNI): built when a
/// snapshot compiles, keys opened and loaded then, so a handshake costs a dictionary lookup or
/// two and the swap to a new certificate is the swap of the config that holds it.
public struct CertificateTable: Sendable {
    /// What one handshake is given: the chain and key of one certificate entity.
    struct Entry: Sendable {
        let name: String
        let override: NIOSSLContextConfigurationOverride
    }

    private let exact: [String: Entry]
    /// By the parent a wildcard covers: `example.com` for `*.example.com`.
    private let wildcards: [String: Entry]
    private let fallback: Entry?
    /// The document's certificates, so an unchanged set is not loaded again.
    let source: [TLSCertificate]

    static let empty = CertificateTable(exact: [:], wildcards: [:], fallback: nil, source: [])

    public var isEmpty: Bool { source.isEmpty }

    private init(exact: [String: Entry], wildcards: [String: Entry], fallback: Entry?, source: [TLSCertificate]) {
        (self.exact, self.wildcards, self.fallback, self.source) = (exact, wildcards, fallback, source)
    }

    /// Opens each sealed key with `sealer` and loads chain and key as the handshake needs them.
    init(_ certificates: [TLSCertificate], sealer: KeySealer?) throws(ConfigCompiler.Rejection) {
        var exact: [String: Entry] = [:]
        var wildcards: [String: Entry] = [:]
        var fallback: Entry?
        for certificate in certificates {
            let entry = Entry(name: certificate.name, override: try Self.load(certificate, sealer: sealer))
            for name in certificate.names {
                if name.hasPrefix("*.") { wildcards[String(name.dropFirst(2))] = entry } else { exact[name] = entry }
            }
            if certificate.isDefault { fallback = entry }
        }
        self.init(exact: exact, wildcards: wildcards, fallback: fallback, source: certificates)
    }

    /// The table for `certificates`, reusing `previous` when they are the same.
    static func compile(_ certificates: [TLSCertificate], previous: CertificateTable?, sealer: KeySealer?) throws(ConfigCompiler.Rejection) -> CertificateTable {
        if certificates.isEmpty { return .empty }
        if let previous, previous.source == certificates { return previous }
        return try CertificateTable(certificates, sealer: sealer)
    }

    /// When each certificate expires, for `/metrics` (an alert fires two weeks ahead).
    var prometheusText: String {
        guard !source.isEmpty else { return "" }
        var out = PrometheusText(capacity: 256)
        out.family(
            "gatehouse_tls_certificate_expiry_timestamp_seconds", "gauge",
            "When each certificate the TLS listener presents expires (its leaf's notAfter), unix seconds.")
        for certificate in source { out.sample("gatehouse_tls_certificate_expiry_timestamp_seconds", [("certificate", certificate.name)], certificate.notAfter) }
        return out.text
    }

    /// The certificate for `serverName`: its exact name, else a wildcard one label up, else the
    /// default. No SNI (a client dialling an address) gets the default.
    func match(_ serverName: String?) -> Entry? {
        guard var name = serverName, !name.isEmpty else { return fallback }
        if name.utf8.contains(where: { (0x41...0x5A).contains($0) }) { name = name.lowercased() }
        if name.hasSuffix(".") { name.removeLast() }
        if let entry = exact[name] { return entry }
        if let parent = TLSCertificate.wildcardParent(of: name), let entry = wildcards[String(parent)] { return entry }
        return fallback
    }

    private static func load(_ certificate: TLSCertificate, sealer: KeySealer?) throws(ConfigCompiler.Rejection) -> NIOSSLContextConfigurationOverride {
        guard case .sealed(let sealed) = certificate.key else {
            throw ConfigCompiler.Rejection(description: "certificate '\(certificate.name)': its key is not sealed")
        }
        guard let sealer else {
            throw ConfigCompiler.Rejection(
                description: "certificate '\(certificate.name)': this data plane has no \(KeySealer.environmentVariable) to open its key with")
        }
        let pem: String
        do {
            pem = try sealer.open(sealed)
            try certificate.checkKey(pem)
        } catch {
            throw ConfigCompiler.Rejection(description: "certificate '\(certificate.name)': its key \(error.message)")
        }
        var override = NIOSSLContextConfigurationOverride()
        do {
            override.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.chain.utf8)).map { .certificate($0) }
            override.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem))
        } catch {
            throw ConfigCompiler.Rejection(description: "certificate '\(certificate.name)': TLS cannot load it: \(error)")
        }
        return override
    }
}
