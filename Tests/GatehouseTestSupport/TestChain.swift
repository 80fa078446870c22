import Crypto
import Foundation
import SwiftASN1
import X509

/// Certificates made in process (swift-certificates), for tests that need many or odd ones: a CA
/// and leaves it signs with the DNS names, validity and key a test asks for.
public struct TestChain: Sendable {
    public struct Leaf: Sendable {
        public let certificatePEM: String
        public let keyPEM: String
        /// The leaf, then the CA: what a certificate entity's `cert` holds.
        public let chainPEM: String
        /// A line of the key's PEM body that holds private bytes (the P-256 scalar), for a
        /// test to look for in files and answers that must never carry it.
        public let keyMarker: String
    }

    private let caKey: P256.Signing.PrivateKey
    private let caName: DistinguishedName
    public let caPEM: String

    public init(name: String = "Gatehouse Test CA") throws {
        caKey = P256.Signing.PrivateKey()
        caName = try DistinguishedName { CommonName(name) }
        let now = Date()
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: now - 3600, notValidAfter: now + 7 * 86400,
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            }, issuerPrivateKey: .init(caKey))
        caPEM = try ca.serializeAsPEM().pemString + "\n"
    }

    /// A leaf for `names` (DNS SANs; none makes one without), valid from `notBefore` to `notAfter`.
    public func leaf(
        _ names: [String], addresses: [[UInt8]] = [], commonName: String? = nil, notBefore: Date = Date() - 3600, notAfter: Date = Date() + 86400
    ) throws -> Leaf {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(commonName ?? names.first ?? "leaf") }
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: caName, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                if !names.isEmpty || !addresses.isEmpty {
                    SubjectAlternativeNames(names.map { GeneralName.dnsName($0) } + addresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: $0[...])) })
                }
            }, issuerPrivateKey: .init(caKey))
        let pem = try leaf.serializeAsPEM().pemString + "\n"
        let keyPEM = key.pemRepresentation + "\n"
        // PKCS #8 of a P-256 key: its first body line is the same for every key, the second holds the scalar.
        let marker = String(keyPEM.split(separator: "\n")[2].prefix(40))
        return Leaf(certificatePEM: pem, keyPEM: keyPEM, chainPEM: pem + caPEM, keyMarker: marker)
    }
}
