import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

@testable import GatehouseProxy

/// `https` upstreams: certificates are verified unless turned off.
@Suite struct HTTPSUpstreamTests {
    @Test func httpsUpstreamsAreVerifiedAgainstTheGivenCA() async throws {
        let certificates = try await TestCertificates.make()
        let upstream = try await TestUpstream.start(name: "secure", tls: (certificates.serverCertificatePEM, certificates.serverKeyPEM))
        let proxy = try await ProxyHarness.start()
        try proxy.apply(
            version: 1,
            upstreams: [
                [
                    "name": "trusted", "scheme": "https", "tls": ["ca_certificates": .string(certificates.caPEM)],
                    "targets": [["target": .string(upstream.target)]],
                ],
                ["name": "untrusted", "scheme": "https", "targets": [["target": .string(upstream.target)]]],
                ["name": "unverified", "scheme": "https", "tls": ["verify": false], "targets": [["target": .string(upstream.target)]]],
            ],
            routes: [
                ["name": "trusted", "paths": ["/trusted"], "upstream": "trusted"],
                ["name": "untrusted", "paths": ["/untrusted"], "upstream": "untrusted"],
                ["name": "unverified", "paths": ["/unverified"], "upstream": "unverified"],
            ])
        // One client connection, so all three use one event loop's pool: a connection verified
        // for one upstream must not be reused for another with weaker or other settings.
        let client = try await TestConnection.open(port: proxy.port)
        let trusted = try await client.request(.GET, "/trusted")
        #expect(trusted.status == 200)
        #expect(trusted.json["server"] == "secure")
        let untrusted = try await client.request(.GET, "/untrusted")
        #expect(untrusted.status == 502)
        #expect(untrusted.json["error"]?["code"] == "upstream_tls_failed")
        // BoringSSL's reason, without its error codes or the build's source paths.
        #expect(untrusted.json["error"]?["message"] == "TLS with upstream 'untrusted' failed: handshake failed: certificate verify failed")
        #expect(try await client.request(.GET, "/unverified").status == 200)
        await client.close()
    }

    @Test func tlsSettingsAreCheckedOnAdmission() throws {
        let id = "00000000-0000-4000-8000-000000000001"
        #expect(throws: ConfigError.self) { try Upstream.read(["name": "u", "tls": ["verify": false]], id: id) }
        #expect(throws: ConfigError.self) { try Upstream.read(["name": "u", "scheme": "https", "tls": ["ca_certificates": "not a pem"]], id: id) }
        let upstream = try Upstream.read(["name": "u", "scheme": "https", "tls": ["server_name": "API.example.com"]], id: id)
        #expect(upstream.tls.serverName == "api.example.com")
    }
}
