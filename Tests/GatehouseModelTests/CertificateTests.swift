import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

@Suite struct CertificateTests {
    let id = "00000000-0000-4000-8000-0000000000c1"
    let chain: TestChain
    let site: TestChain.Leaf
    let sealer: KeySealer

    init() throws {
        chain = try TestChain()
        site = try chain.leaf(["Site.Example.test", "*.api.example.test"])
        sealer = try KeySealer(secret: String(repeating: "s", count: 40))
    }

    private func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return (error as? ConfigError).map { "\($0.field ?? ""): \($0.message)" } ?? "not a ConfigError: \(error)"
        }
    }

    private func certificate(_ name: String, _ leaf: TestChain.Leaf, extra: [String: JSONValue] = [:]) throws -> TLSCertificate {
        var body: [String: JSONValue] = ["name": .string(name), "cert": .string(leaf.chainPEM), "key": .string(leaf.keyPEM)]
        body.merge(extra) { _, new in new }
        return try TLSCertificate.read(.object(body), id: id)
    }

    @Test func namesValidityAndFingerprintsComeFromTheChain() throws {
        let certificate = try certificate("site", site)
        #expect(certificate.names == ["*.api.example.test", "site.example.test"])
        #expect(certificate.notAfter > Int(Date().timeIntervalSince1970))
        #expect(certificate.keyReference.hasPrefix("spki-sha256:"))
        #expect(certificate.covers("site.example.test"))
        #expect(certificate.covers("v1.api.example.test"))
        #expect(!certificate.covers("a.v1.api.example.test"), "a wildcard covers one label")
        #expect(!certificate.covers("api.example.test"))
        guard case .clear = certificate.key else { Issue.record("a key given in clear is held clear until it is sealed"); return }
    }

    @Test func chainsOutOfOrderKeysThatDoNotMatchAndBlocksOfOtherKindsAreRefused() throws {
        let other = try chain.leaf(["other.example.test"])
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(chain.caPEM + site.certificatePEM), "key": .string(site.keyPEM)], id: id) }
            .contains("is not signed by certificate 2"))
        let stranger = try TestChain()
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.certificatePEM + stranger.caPEM), "key": .string(site.keyPEM)], id: id) }
            .contains("not signed"))
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.chainPEM), "key": .string(other.keyPEM)], id: id) }
            == "key: does not match the certificate's public key")
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.certificatePEM + site.keyPEM), "key": .string(site.keyPEM)], id: id) }
            .contains("not a CERTIFICATE"))
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": "not pem", "key": .string(site.keyPEM)], id: id) }.contains("is not PEM"))
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.chainPEM), "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"], id: id) }
            .hasPrefix("key: is not an unencrypted PEM private key"))
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.chainPEM)], id: id) }.hasPrefix("key: give the private key"))
        #expect(message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.chainPEM), "key": .string(site.keyPEM), "key_ref": "spki-sha256:00"], id: id) }
            .contains("give one of"))
    }

    @Test func aLeafWithoutDNSNamesIsRefused() throws {
        let bare = try chain.leaf([], commonName: "bare.example.test")
        #expect(message { _ = try certificate("bare", bare) }.contains("no DNS subject alternative name"))
        let bad = try chain.leaf(["*.com"])
        #expect(message { _ = try certificate("bad", bad) }.contains("not a DNS name a client can send"))
    }

    @Test func noErrorQuotesTheKey() throws {
        let other = try chain.leaf(["other.example.test"])
        let text = message { _ = try TLSCertificate.read(["name": "x", "cert": .string(site.chainPEM), "key": .string(other.keyPEM)], id: id) }
        #expect(!text.contains(other.keyMarker))
    }

    @Test func sealedKeysOpenOnlyWithTheirSecretAndUnaltered() throws {
        let sealed = sealer.seal(site.keyPEM)
        #expect(!sealed.contains(site.keyMarker))
        #expect(try sealer.open(sealed) == site.keyPEM)
        #expect(sealer.seal(site.keyPEM) != sealed, "each seal has its own nonce")
        let other = try KeySealer(secret: String(repeating: "t", count: 40))
        #expect(message { _ = try other.open(sealed) }.contains("was sealed with another GATEHOUSE_SECRET_KEY"))
        var altered = Array(sealed)
        altered[altered.count - 5] = altered[altered.count - 5] == "A" ? "B" : "A"
        #expect(message { _ = try sealer.open(String(altered)) }.contains("altered"))
        #expect(message { _ = try KeySealer(secret: "short") }.contains("at least 32"))
    }

    @Test func writingSealsClearKeysKeepsReferencesAndReusesTheSealOfTheSameKey() throws {
        var document = ConfigDocument()
        document.certificates = [try certificate("site", site)]
        #expect(message { var copy = document; try copy.sealCertificateKeys(previous: ConfigDocument(), sealer: nil) }.contains("needs GATEHOUSE_SECRET_KEY"))
        try document.sealCertificateKeys(previous: ConfigDocument(), sealer: sealer)
        guard case .sealed(let first) = document.certificates[0].key else { Issue.record("not sealed"); return }
        #expect(!document.json().canonicalString.contains(site.keyMarker))

        // The same clear key again (a file synced twice): the same sealed form, so no change.
        var again = ConfigDocument()
        again.certificates = [try certificate("site", site)]
        try again.sealCertificateKeys(previous: document, sealer: sealer)
        #expect(again == document)

        // What answers show reads back as a reference to the key held.
        let shown = try ConfigDocument.read(document.publicJSON())
        #expect(!document.publicJSON().canonicalString.contains("key_sealed"))
        var restored = shown
        try restored.sealCertificateKeys(previous: document, sealer: nil)
        guard case .sealed(let kept) = restored.certificates[0].key else { Issue.record("not resolved"); return }
        #expect(kept == first)
        #expect(message { var copy = shown; try copy.sealCertificateKeys(previous: ConfigDocument(), sealer: sealer) }.contains("names no key this control plane holds"))
    }

    @Test func anExpiredCertificateIsRefusedWhenWrittenNotWhenKept() throws {
        let expired = try chain.leaf(["old.example.test"], notBefore: Date() - 7200, notAfter: Date() - 60)
        var document = ConfigDocument()
        document.certificates = [try certificate("old", expired)]
        #expect(message { var copy = document; try copy.sealCertificateKeys(previous: ConfigDocument(), sealer: sealer) }.contains("expired at"))
        // The same leaf already stored (it expired while served) is not refused again.
        try document.sealCertificateKeys(previous: ConfigDocument(), sealer: sealer, now: Date() - 3600)
        var later = document
        try later.sealCertificateKeys(previous: document, sealer: sealer)
        let future = try chain.leaf(["new.example.test"], notBefore: Date() + 86400, notAfter: Date() + 2 * 86400)
        var early = ConfigDocument()
        early.certificates = [try certificate("new", future)]
        #expect(message { try early.sealCertificateKeys(previous: ConfigDocument(), sealer: sealer) }.contains("is not valid before"))
    }

    @Test func aNameOnTwoCertificatesOrTwoDefaultsAreRefused() throws {
        let twin = try chain.leaf(["site.example.test"])
        var document = ConfigDocument()
        document.certificates = [try certificate("one", site), try certificate("two", twin)]
        document.certificates[1].header.id = "00000000-0000-4000-8000-0000000000c2"
        #expect(message { try document.validate() }.contains("both name site.example.test"))
        let other = try chain.leaf(["other.example.test"])
        document.certificates[1] = try certificate("two", other, extra: ["default": true])
        document.certificates[1].header.id = "00000000-0000-4000-8000-0000000000c2"
        document.certificates[0].isDefault = true
        #expect(message { try document.validate() }.contains("are both the default"))
        document.certificates[0].isDefault = false
        try document.validate()
    }

    @Test func documentsWithoutCertificatesKeepTheirForm() throws {
        let empty = ConfigDocument()
        #expect(empty.json()["certificates"] == nil)
        #expect(try ConfigDocument.read(empty.json()) == empty)
    }

    @Test func hstsIsCheckedAndWrittenOnlyWhenSet() throws {
        let route = try Route.read(["name": "r", "upstream": "u", "hsts": ["max_age": 31_536_000, "include_subdomains": true, "preload": true], "https_redirect": true], id: id)
        #expect(route.hsts?.headerValue == "max-age=31536000; includeSubDomains; preload")
        #expect(route.json()["https_redirect"] == .bool(true))
        #expect(message { _ = try Route.read(["name": "r", "upstream": "u", "hsts": ["max_age": 600, "preload": true]], id: id) }.contains("preload needs"))
        #expect(message { _ = try Route.read(["name": "r", "upstream": "u", "hsts": ["include_subdomains": true]], id: id) }.hasPrefix("hsts.max_age"))
        let plain = try Route.read(["name": "r", "upstream": "u"], id: id)
        #expect(plain.json()["hsts"] == nil && plain.json()["https_redirect"] == nil)
    }
}
