import Foundation

/// Rules for the certificates of a document: which certificate a name reaches must never be left
/// to chance, and what is written holds every private key sealed.
extension ConfigDocument {
    /// No DNS name on two certificates; at most one default.
    func validateCertificates() throws(ConfigError) {
        var owners: [String: String] = [:]
        for certificate in certificates {
            for name in certificate.names {
                if let other = owners.updateValue(certificate.name, forKey: name) {
                    throw ConfigError(
                        code: .conflict,
                        message: "certificates '\(other)' and '\(certificate.name)' both name \(name); replace one in place (PUT /certificates/\(other)) to rotate it",
                        field: "cert")
                }
            }
        }
        let defaults = certificates.filter(\.isDefault).map(\.name)
        if defaults.count > 1 {
            throw ConfigError(code: .conflict, message: "certificates \(defaults.map { "'\($0)'" }.joined(separator: " and ")) are both the default", field: "default")
        }
    }

    /// Makes every certificate key sealed before the document is written: a clear key is sealed
    /// with `sealer`, a `key_ref` takes the sealed key `previous` holds for the same public key.
    /// A certificate new to the document (no certificate of `previous` has its leaf) must be
    /// valid at `now`: an expired chain is refused when it is written, never when it is served.
    public mutating func sealCertificateKeys(previous: ConfigDocument, sealer: KeySealer?, now: Date = Date()) throws(ConfigError) {
        guard !certificates.isEmpty else { return }
        let storedKeys = Dictionary(
            previous.certificates.compactMap { certificate -> (String, String)? in
                guard case .sealed(let sealed) = certificate.key else { return nil }
                return (certificate.keyReference, sealed)
            }, uniquingKeysWith: { first, _ in first })
        let knownLeaves = Set(previous.certificates.map(\.fingerprint))
        let time = Int(now.timeIntervalSince1970)
        for index in certificates.indices {
            let certificate = certificates[index]
            switch certificate.key {
            case .sealed: break
            case .clear(let pem):
                guard let sealer else {
                    throw .invalid(
                        "certificate '\(certificate.name)': storing a private key needs \(KeySealer.environmentVariable) set on the control plane (and on every data plane); the key is kept only sealed with it",
                        field: "key")
                }
                // The same key again (a file synced twice) keeps its sealed form, so the
                // document, its hash and its diff do not change with each new nonce.
                if let sealed = storedKeys[certificate.keyReference], (try? sealer.open(sealed)) == pem {
                    certificates[index].key = .sealed(sealed)
                } else {
                    certificates[index].key = .sealed(sealer.seal(pem))
                }
            case .stored:
                guard let sealed = storedKeys[certificate.keyReference] else {
                    throw .invalid(
                        "certificate '\(certificate.name)': key_ref \(certificate.keyReference) names no key this control plane holds; give the private key as key",
                        field: "key_ref")
                }
                certificates[index].key = .sealed(sealed)
            }
            if !knownLeaves.contains(certificate.fingerprint) {
                if certificate.notAfter <= time {
                    throw .invalid("certificate '\(certificate.name)' expired at \(Self.date(certificate.notAfter))", field: "cert")
                }
                // A few minutes of clock skew between the issuer and this host are forgiven.
                if certificate.notBefore > time + 300 {
                    throw .invalid("certificate '\(certificate.name)' is not valid before \(Self.date(certificate.notBefore))", field: "cert")
                }
            }
        }
    }

    private static func date(_ seconds: Int) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }
}
