import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate chain and its private key that the proxy's TLS listener presents to clients
/// whose SNI matches one of the leaf's DNS names (exact names before wildcards), or to any
/// client when it is the default. What it says about itself (names, validity, fingerprints) is
/// read from the chain, never given.
public struct TLSCertificate: Sendable, Hashable {
    /// The private key in the form it is at: only `sealed` is ever written to SQLite or a snapshot.
    public enum Key: Sendable, Hashable {
        /// `key_sealed`: encrypted with `GATEHOUSE_SECRET_KEY` (`KeySealer`).
        case sealed(String)
        /// `key`: PEM as a client sent it, checked against the leaf; sealed before it is written.
        case clear(String)
        /// `key_ref`: the key the control plane already holds for this leaf's public key.
        case stored
    }

    public static let maxChainLength = 10
    static let derivedFields = ["names", "not_before", "not_after", "fingerprint"]

    public var header: EntityHeader
    /// The chain as canonical PEM, leaf first.
    public private(set) var chain: String
    public var key: Key
    public var isDefault: Bool
    /// The leaf's DNS names (subject alternative names), lowercased; `*.` only as a first label.
    public private(set) var names: [String]
    /// Unix seconds.
    public private(set) var notBefore: Int
    public private(set) var notAfter: Int
    /// SHA-256 of the leaf's DER, hex.
    public private(set) var fingerprint: String
    /// `spki-sha256:` and the SHA-256 of the leaf's public key: what `key_ref` says.
    public private(set) var keyReference: String
    private var leaf: X509.Certificate

    public static func read(_ value: JSONValue, id: String? = nil, path: String = "") throws(ConfigError) -> TLSCertificate {
        var reader = try FieldReader(value, path: path)
        let header = try EntityHeader.read(&reader, id: id)
        var certificate = TLSCertificate(header: header, parsed: try Self.parseChain(try reader.string("cert"), field: reader.field("cert")))
        certificate.isDefault = try reader.optionalBool("default") ?? false
        for field in derivedFields { _ = reader.value(field) }

        let given = ["key", "key_sealed", "key_ref"].filter { reader.keys.contains($0) && !reader.isNull($0) }
        guard given.count == 1 else {
            throw .invalid(
                given.isEmpty ? "give the private key as key (PEM), or key_ref to keep the one stored" : "give one of key, key_sealed, key_ref",
                field: reader.field(given.first ?? "key"))
        }
        switch given[0] {
        case "key":
            let pem = try reader.string("key")
            certificate.key = .clear(try Self.checkedKey(pem, for: certificate.leaf, field: reader.field("key")))
        case "key_sealed":
            certificate.key = .sealed(try reader.string("key_sealed"))
        default:
            let reference = try reader.string("key_ref")
            guard reference == certificate.keyReference else {
                throw .invalid("names another key than the certificate's (\(certificate.keyReference))", field: reader.field("key_ref"))
            }
            certificate.key = .stored
        }
        try reader.finish()
        return certificate
    }

    private init(header: EntityHeader, parsed: (chain: String, leaf: X509.Certificate, names: [String])) {
        self.header = header
        leaf = parsed.leaf
        chain = parsed.chain
        key = .stored
        isDefault = false
        names = parsed.names
        notBefore = Int(parsed.leaf.notValidBefore.timeIntervalSince1970)
        notAfter = Int(parsed.leaf.notValidAfter.timeIntervalSince1970)
        var serializer = DER.Serializer()
        try? serializer.serialize(parsed.leaf)
        fingerprint = Credential.hex(Array(SHA256.hash(data: serializer.serializedBytes)))
        keyReference = "spki-sha256:" + Credential.hex(Array(SHA256.hash(data: Array(parsed.leaf.publicKey.subjectPublicKeyInfoBytes))))
    }

    /// The document form, as snapshots hold it.
    public func json() -> JSONValue {
        var fields = header.fields()
        fields["cert"] = .string(chain)
        fields["default"] = .bool(isDefault)
        switch key {
        case .sealed(let sealed): fields["key_sealed"] = .string(sealed)
        case .clear(let pem): fields["key"] = .string(pem)
        case .stored: fields["key_ref"] = .string(keyReference)
        }
        return .object(fields)
    }

    /// The form every answer and dump shows: the key only as a reference, with what the chain says.
    public func publicJSON() -> JSONValue {
        var fields = header.fields()
        fields["cert"] = .string(chain)
        fields["default"] = .bool(isDefault)
        fields["key_ref"] = .string(keyReference)
        fields["names"] = .array(names.map(JSONValue.string))
        fields["not_before"] = .int(notBefore)
        fields["not_after"] = .int(notAfter)
        fields["fingerprint"] = .string(fingerprint)
        return .object(fields)
    }

    /// Whether this certificate serves `name` (lowercased, no trailing dot): one of its names,
    /// or a wildcard covering exactly one more label.
    public func covers(_ name: String) -> Bool {
        names.contains { $0 == name || ($0.hasPrefix("*.") && Self.wildcardParent(of: name) == $0.dropFirst(2)) }
    }

    /// `b.c` for `a.b.c`: what a wildcard `*.b.c` must name to cover it.
    public static func wildcardParent(of name: some StringProtocol) -> Substring? {
        guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return nil }
        let parent = name[name.index(after: dot)...]
        return parent.contains(".") ? Substring(parent) : nil
    }

    // MARK: - Reading the chain and key

    private static func parseChain(_ text: String, field: String) throws(ConfigError) -> (chain: String, leaf: X509.Certificate, names: [String]) {
        let notPEM = ConfigError.invalid("is not PEM: give the certificate chain as BEGIN CERTIFICATE blocks, leaf first", field: field)
        guard let documents = try? PEMDocument.parseMultiple(pemString: text), !documents.isEmpty else { throw notPEM }
        guard documents.count <= maxChainLength else {
            throw .invalid("must hold at most \(maxChainLength) certificates", field: field)
        }
        var certificates: [X509.Certificate] = []
        for (index, document) in documents.enumerated() {
            guard document.discriminator == "CERTIFICATE" else {
                throw .invalid("block \(index + 1) is a \(document.discriminator), not a CERTIFICATE (the private key goes in key)", field: field)
            }
            do { certificates.append(try X509.Certificate(derEncoded: document.derBytes)) } catch {
                throw .invalid("certificate \(index + 1) cannot be parsed", field: field)
            }
        }
        for index in certificates.indices.dropLast() {
            let (child, issuer) = (certificates[index], certificates[index + 1])
            guard child.issuer == issuer.subject, issuer.publicKey.isValidSignature(child.signature, for: child) else {
                throw .invalid(
                    "certificate \(index + 1) is not signed by certificate \(index + 2): list the leaf first, then each issuer in turn",
                    field: field)
            }
        }
        let leaf = certificates[0]
        var names: [String] = []
        do {
            for name in try leaf.extensions.subjectAlternativeNames ?? SubjectAlternativeNames() {
                guard case .dnsName(let dns) = name else { continue }
                var lowered = dns.lowercased()
                if lowered.hasSuffix(".") { lowered.removeLast() }
                guard isValidName(lowered) else { throw ConfigError.invalid("the leaf names '\(dns)', which is not a DNS name a client can send", field: field) }
                names.append(lowered)
            }
        } catch let error as ConfigError {
            throw error
        } catch {
            throw .invalid("the leaf's subject alternative names cannot be read", field: field)
        }
        guard !names.isEmpty else {
            throw .invalid("the leaf has no DNS subject alternative name; clients match certificates by SAN, not by the common name", field: field)
        }
        let pem = certificates.map { (try? $0.serializeAsPEM().pemString) ?? "" }.joined(separator: "\n") + "\n"
        return (pem, leaf, Array(Set(names)).sorted())
    }

    /// The key as canonical PKCS #8 PEM, once it is known to be the leaf's.
    private static func checkedKey(_ pem: String, for leaf: X509.Certificate, field: String) throws(ConfigError) -> String {
        let key: X509.Certificate.PrivateKey
        do { key = try X509.Certificate.PrivateKey(pemEncoded: pem) } catch {
            throw .invalid("is not an unencrypted PEM private key (RSA, P-256, P-384 or Ed25519)", field: field)
        }
        guard key.publicKey == leaf.publicKey else { throw .invalid("does not match the certificate's public key", field: field) }
        guard let canonical = try? key.serializeAsPEM().pemString else { throw .invalid("cannot be written as PEM", field: field) }
        return canonical + "\n"
    }

    /// Checks a key opened from its sealed form against this certificate.
    public func checkKey(_ pem: String) throws(ConfigError) {
        _ = try Self.checkedKey(pem, for: leaf, field: "certificate '\(name)'.key")
    }

    static func isValidName(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, name.utf8.count <= 253 else { return false }
        for (index, label) in labels.enumerated() {
            if index == 0, label == "*" { continue }
            guard (1...63).contains(label.utf8.count), label.utf8.allSatisfy({ ASCIIName.allowed($0) }),
                label.first != "-", label.last != "-"
            else { return false }
        }
        // A wildcard must leave a registrable-looking parent (`*.example.com`, not `*.com`).
        return labels[0] != "*" || labels.count >= 3
    }

    private enum ASCIIName {
        static func allowed(_ byte: UInt8) -> Bool {
            (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
        }
    }
}

extension TLSCertificate: ConfigEntity {
    public static let kind = EntityKind.certificate
    public static var all: WritableKeyPath<ConfigDocument, [TLSCertificate]> { \.certificates }
    public func apiJSON() -> JSONValue { publicJSON() }
}
