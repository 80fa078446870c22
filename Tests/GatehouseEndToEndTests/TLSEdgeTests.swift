import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing

/// TLS at the edge as clients and operators meet it: `gatehouse serve` and a control plane with a
/// data plane, real processes, certificates posted through the admin API, and `openssl`,
/// `sslscan` and TLS clients on the listener.
@Suite struct TLSEdgeTests {
    static let secret = "tls-e2e-secret-key-0123456789abcdef0123"
    static let environment = ["GATEHOUSE_SECRET_KEY": secret]

    struct Site {
        let gatehouse: GatehouseProcess
        let tlsPort: Int
        let chain: TestChain
        let directory: TemporaryDirectory
    }

    /// `serve` with a TLS listener, an upstream routed for every host, and the certificates given.
    static func site(_ certificates: [(String, TestChain.Leaf, isDefault: Bool)], chain: TestChain, upstream: TestUpstream) async throws -> Site {
        let directory = try TemporaryDirectory()
        let gatehouse = try await GatehouseProcess.serve(
            db: directory.file("g.db"), environment: environment, extraArguments: ["--proxy-tls-listen", "127.0.0.1:0"])
        try await gatehouse.routeEverything(to: upstream)
        for (name, leaf, isDefault) in certificates {
            let created = try await httpRequest(
                port: gatehouse.ports.admin, .POST, "/certificates",
                json: ["name": .string(name), "cert": .string(leaf.chainPEM), "key": .string(leaf.keyPEM), "default": .bool(isDefault)])
            #expect(created.status == 201, "\(created.text)")
        }
        return Site(gatehouse: gatehouse, tlsPort: try await gatehouse.waitForProxy(tls: true), chain: chain, directory: directory)
    }

    static func subject(_ port: Int, serverName: String?, in directory: TemporaryDirectory) async throws -> String {
        let run = try await ToolRun.run(
            "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)"] + (serverName.map { ["-servername", $0] } ?? ["-noservername"]),
            outputFile: directory.file("s_client-\(UUID().uuidString).txt"))
        return run.output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? "no subject in: \(run.output.prefix(600))"
    }

    @Test func sniPicksEachNamesCertificateExactBeforeWildcardAndTheDefaultOtherwise() async throws {
        let upstream = try await TestUpstream.start()
        let chain = try TestChain()
        let shop = try chain.leaf(["shop.example.test"], commonName: "shop")
        let wildcard = try chain.leaf(["*.example.test"], commonName: "wildcard")
        let fallback = try chain.leaf(["fallback.example.test"], commonName: "fallback")
        let site = try await Self.site([("shop", shop, false), ("wild", wildcard, false), ("fallback", fallback, true)], chain: chain, upstream: upstream)
        defer { site.gatehouse.stop(); site.directory.remove() }

        #expect(try await Self.subject(site.tlsPort, serverName: "shop.example.test", in: site.directory) == "subject=CN = shop")
        #expect(try await Self.subject(site.tlsPort, serverName: "api.example.test", in: site.directory) == "subject=CN = wildcard")
        #expect(try await Self.subject(site.tlsPort, serverName: "SHOP.Example.Test", in: site.directory) == "subject=CN = shop")
        #expect(try await Self.subject(site.tlsPort, serverName: "a.b.example.test", in: site.directory) == "subject=CN = fallback")
        #expect(try await Self.subject(site.tlsPort, serverName: "unknown.test", in: site.directory) == "subject=CN = fallback")
        #expect(try await Self.subject(site.tlsPort, serverName: nil, in: site.directory) == "subject=CN = fallback")

        // A request over TLS goes through, verified against the CA, and the upstream hears https.
        let answer = try await TLSProbe.get(
            port: site.tlsPort, serverName: "shop.example.test", trusting: chain.caPEM, group: MultiThreadedEventLoopGroup.singleton)
        #expect(answer.statusLine == "HTTP/1.1 200 OK")
        #expect(answer.text.contains(#""x-forwarded-proto":["https"]"#), "\(answer.text)")
        #expect(answer.text.contains(#""x-forwarded-port":["\#(site.tlsPort)"]"#))

        // Each certificate's expiry is on /metrics, for the alert two weeks ahead.
        let metrics = try await httpRequest(port: site.gatehouse.ports.status, .GET, "/metrics").text
        let shown = try #require(try await httpRequest(port: site.gatehouse.ports.admin, .GET, "/certificates/shop").json["not_after"]?.intValue)
        #expect(metrics.contains("gatehouse_tls_certificate_expiry_timestamp_seconds{certificate=\"shop\"} \(shown)\n"))

        // Without a default, a name no certificate has fails the handshake.
        let deleted = try await httpRequest(port: site.gatehouse.ports.admin, .DELETE, "/certificates/fallback")
        #expect(deleted.status == 204)
        try await site.gatehouse.waitForConfigVersion(6)
        await #expect(throws: (any Error).self) {
            _ = try await TLSProbe.get(port: site.tlsPort, serverName: "unknown.test", trusting: chain.caPEM, group: MultiThreadedEventLoopGroup.singleton)
        }
    }

    @Test func theListenerSpeaksTLS12And13OnlyWithStrongCiphers() async throws {
        let upstream = try await TestUpstream.start()
        let chain = try TestChain()
        let site = try await Self.site([("any", try chain.leaf(["scan.example.test"]), true)], chain: chain, upstream: upstream)
        defer { site.gatehouse.stop(); site.directory.remove() }
        let sslscan = try #require(ToolRun.onPath("sslscan"), "sslscan is installed by .ci/run")
        let xml = site.directory.file("scan.xml")
        let run = try await ToolRun.run(
            sslscan, ["--no-colour", "--xml=\(xml)", "127.0.0.1:\(site.tlsPort)"], outputFile: site.directory.file("sslscan.txt"))
        #expect(run.status == 0, "\(run.output)")
        let report = try String(contentsOfFile: xml, encoding: .utf8)
        for old in [#"type="ssl" version="2""#, #"type="ssl" version="3""#, #"type="tls" version="1.0""#, #"type="tls" version="1.1""#] {
            #expect(report.contains(#"<protocol \#(old) enabled="0" />"#), "\(old) is enabled:\n\(report)")
        }
        #expect(report.contains(#"<protocol type="tls" version="1.2" enabled="1" />"#))
        #expect(report.contains(#"<protocol type="tls" version="1.3" enabled="1" />"#))
        let ciphers = report.split(separator: "\n").filter { $0.contains("<cipher ") }
        #expect(ciphers.count >= 3)
        for cipher in ciphers {
            #expect(cipher.contains(#"strength="strong""#) || cipher.contains(#"strength="acceptable""#), "weak: \(cipher)")
            for weak in ["CBC", "RC4", "3DES", "DES-", "NULL", "EXPORT", "SHA\""] { #expect(!cipher.contains(weak), "\(cipher)") }
        }
    }

    @Test func httpsRedirectAndHSTSApplyPerRoute() async throws {
        let upstream = try await TestUpstream.start()
        let chain = try TestChain()
        let site = try await Self.site([("shop", try chain.leaf(["shop.example.test"]), true)], chain: chain, upstream: upstream)
        defer { site.gatehouse.stop(); site.directory.remove() }
        let admin = site.gatehouse.ports.admin
        let secured = try await httpRequest(
            port: admin, .POST, "/routes",
            json: [
                "name": "secured", "upstream": "u", "hosts": ["shop.example.test"], "https_redirect": true,
                "hsts": ["max_age": 31_536_000, "include_subdomains": true],
            ])
        #expect(secured.status == 201, "\(secured.text)")
        let redirected = try await httpRequest(port: site.gatehouse.ports.proxy, .POST, "/cart/items?id=7", headers: [("Host", "shop.example.test")])
        #expect(redirected.status == 308)
        #expect(redirected.header("location") == "https://shop.example.test:\(site.tlsPort)/cart/items?id=7")
        #expect(redirected.header("strict-transport-security") == nil, "HSTS is never sent over plain HTTP")
        // The route without https_redirect still serves plain HTTP.
        #expect(try await httpRequest(port: site.gatehouse.ports.proxy, .GET, "/", headers: [("Host", "other.test")]).status == 200)

        let answer = try await TLSProbe.get(
            port: site.tlsPort, serverName: "shop.example.test", trusting: chain.caPEM, path: "/cart", group: MultiThreadedEventLoopGroup.singleton)
        #expect(answer.statusLine == "HTTP/1.1 200 OK")
        #expect(answer.text.lowercased().contains("strict-transport-security: max-age=31536000; includesubdomains\r\n"))
        // The upstream's own header gives way: a client heeds the first one it reads.
        upstream.setDocument("{}", headers: [("Strict-Transport-Security", "max-age=0")])
        let replaced = try await TLSProbe.get(
            port: site.tlsPort, serverName: "shop.example.test", trusting: chain.caPEM, path: "/document", group: MultiThreadedEventLoopGroup.singleton)
        #expect(replaced.statusLine == "HTTP/1.1 200 OK")
        #expect(replaced.text.lowercased().components(separatedBy: "strict-transport-security:").count == 2, "\(replaced.text)")
        #expect(!replaced.text.contains("max-age=0"))
        // A route without hsts sends none over TLS either (no SNI: the default certificate, Host 127.0.0.1).
        let other = try await TLSProbe.get(port: site.tlsPort, serverName: nil, trusting: chain.caPEM, group: MultiThreadedEventLoopGroup.singleton)
        #expect(other.statusLine == "HTTP/1.1 200 OK")
        #expect(!other.text.lowercased().contains("strict-transport-security"))
    }

    /// Handshakes keep starting on new connections while the certificate is replaced: none fails,
    /// and every handshake that starts after the admin API acknowledged the new version (`serve`
    /// answers once its data plane applied it) is given the new certificate.
    @Test func aCertificateReplacedUnderLoadFailsNoHandshake() async throws {
        let upstream = try await TestUpstream.start()
        let chain = try TestChain()
        let old = try chain.leaf(["shop.example.test"], commonName: "old")
        let new = try chain.leaf(["shop.example.test"], commonName: "new")
        let site = try await Self.site([("shop", old, false)], chain: chain, upstream: upstream)
        defer { site.gatehouse.stop(); site.directory.remove() }
        let oldLeaf = try NIOSSLCertificate(bytes: Array(old.certificatePEM.utf8), format: .pem)
        let newLeaf = try NIOSSLCertificate(bytes: Array(new.certificatePEM.utf8), format: .pem)

        struct Tally: Sendable {
            var old = 0, new = 0, failures: [String] = [], oldAfterSwap = 0
        }
        let tally = NIOLockedValueBox(Tally())
        let swapped = NIOLockedValueBox(false)
        let group = MultiThreadedEventLoopGroup.singleton
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for _ in 0..<4 {
                tasks.addTask {
                    // Each client runs until it has seen the new certificate a few times.
                    var seenNew = 0
                    while seenNew < 5 {
                        let afterSwap = swapped.withLockedValue { $0 }
                        do {
                            let answer = try await TLSProbe.get(port: site.tlsPort, serverName: "shop.example.test", trusting: chain.caPEM, group: group)
                            guard answer.statusLine == "HTTP/1.1 200 OK" else { throw TimedOut(description: "status \(answer.statusLine)") }
                            let isNew = answer.leaf == newLeaf
                            if isNew { seenNew += 1 }
                            tally.withLockedValue {
                                if isNew { $0.new += 1 } else if answer.leaf == oldLeaf { $0.old += 1 } else { $0.failures.append("another leaf") }
                                if afterSwap, !isNew { $0.oldAfterSwap += 1 }
                            }
                        } catch {
                            tally.withLockedValue { $0.failures.append("\(error)") }
                            if tally.withLockedValue({ $0.failures.count }) > 20 { return }
                        }
                    }
                }
            }
            tasks.addTask {
                // Some handshakes with the old certificate first.
                try await waitUntil("handshakes with the old certificate") { tally.withLockedValue { $0.old >= 20 || !$0.failures.isEmpty } }
                let replaced = try await httpRequest(
                    port: site.gatehouse.ports.admin, .PUT, "/certificates/shop", json: ["cert": .string(new.chainPEM), "key": .string(new.keyPEM)])
                #expect(replaced.status == 200, "\(replaced.text)")
                swapped.withLockedValue { $0 = true }
            }
            try await tasks.waitForAll()
        }
        let result = tally.withLockedValue { $0 }
        #expect(result.failures.isEmpty, "\(result.failures.prefix(5))")
        #expect(result.old >= 20)
        #expect(result.new >= 20)
        #expect(result.oldAfterSwap == 0, "handshakes begun after the swap was acknowledged got the old certificate")
    }

    /// The private key is given once, in clear, through the admin API; from then on it is in no
    /// answer, dump, database file, snapshot cache or log, of the control plane or a data plane,
    /// and the data plane serves it all the same.
    @Test func aPrivateKeyIsFoundInNoAnswerDumpDatabaseSnapshotFileOrLog() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let token = "tls-cluster-token-0123456789abcdef"
        let chain = try TestChain()
        let leaf = try chain.leaf(["shop.example.test"])
        let cp = try await GatehouseProcess.controlPlane(db: directory.file("cp.db"), token: token, environment: Self.environment)
        defer { cp.stop() }
        let upstream = try await TestUpstream.start()
        try await cp.routeEverything(to: upstream)
        let created = try await httpRequest(
            port: cp.ports.admin, .POST, "/certificates", json: ["name": "shop", "cert": .string(leaf.chainPEM), "key": .string(leaf.keyPEM)])
        #expect(created.status == 201)
        // A mistake that quotes the key back would leak it: the error names the field only.
        let wrong = try await httpRequest(
            port: cp.ports.admin, .POST, "/certificates",
            json: ["name": "bad", "cert": .string(try chain.leaf(["bad.example.test"]).chainPEM), "key": .string(leaf.keyPEM)])
        #expect(wrong.status == 400)
        // A rotation: the same name, a new leaf and key.
        let renewed = try chain.leaf(["shop.example.test"])
        let replaced = try await httpRequest(
            port: cp.ports.admin, .PUT, "/certificates/shop", json: ["cert": .string(renewed.chainPEM), "key": .string(renewed.keyPEM)])
        #expect(replaced.status == 200)
        let dp = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: token, cacheDir: directory.file("dp"), environment: Self.environment,
            extraArguments: ["--proxy-tls-listen", "127.0.0.1:0"])
        defer { dp.stop() }
        let tlsPort = try await dp.waitForProxy(tls: true)
        try await dp.waitForConfigVersion(4)
        let answer = try await TLSProbe.get(port: tlsPort, serverName: "shop.example.test", trusting: chain.caPEM, group: MultiThreadedEventLoopGroup.singleton)
        #expect(answer.statusLine == "HTTP/1.1 200 OK")
        #expect(answer.leaf == (try NIOSSLCertificate(bytes: Array(renewed.certificatePEM.utf8), format: .pem)))

        var answers = [created.text, wrong.text, replaced.text]
        let paths = ["/certificates", "/certificates/shop", "/config", "/versions", "/versions/1/diff/4", "/versions/3/diff/4", "/data-planes"]
        for path in paths + (0...4).map({ "/versions/\($0)" }) {
            answers.append(try await httpRequest(port: cp.ports.admin, .GET, path).text)
        }
        let dump = try await GatehouseProcess.run(["dump"], environment: ["GATEHOUSE_ADMIN_URL": "http://127.0.0.1:\(cp.ports.admin)"])
        #expect(dump.status == 0)
        #expect(dump.output.contains("key_ref: \"spki-sha256:"))
        var files: [(String, String)] = []
        for root in [directory.path] {
            for case let name as String in FileManager.default.enumerator(atPath: root)! {
                let path = root + "/" + name
                if let data = FileManager.default.contents(atPath: path) { files.append((name, String(decoding: data, as: UTF8.self))) }
            }
        }
        #expect(files.contains { $0.0.hasPrefix("dp/") && $0.1.contains("gh1.") }, "the data plane caches its snapshot, the key sealed")
        // The entity rows hold the certificate as text: a key stored in clear would be seen there.
        #expect(files.contains { $0.0.hasPrefix("cp.db") && $0.1.contains("gh1.") }, "the database holds the sealed key as text")
        #expect(answers.contains { $0.contains(#""key_ref""#) && $0.contains(#""update""#) }, "a version shows the rotation as a new key_ref")
        for (what, text) in answers.enumerated().map({ ("answer \($0.offset)", $0.element) }) + [("dump", dump.output), ("control plane log", cp.output), ("data plane log", dp.output)] + files {
            #expect(!text.contains(leaf.keyMarker) && !text.contains(renewed.keyMarker), "a key is in \(what)")
        }
        for (what, text) in answers.enumerated().map({ ("answer \($0.offset)", $0.element) }) + [("dump", dump.output)] {
            #expect(!text.contains("key_sealed") && !text.contains("gh1."), "the sealed key is in \(what)")
        }
    }

    /// A certificate in a declarative file, its key from the environment: synced, synced again
    /// with no change, dumped with a `key_ref`, and the dump synced back with no change.
    @Test func aCertificateInAFileSyncsAndItsDumpSyncsBackUnchanged() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let chain = try TestChain()
        let leaf = try chain.leaf(["shop.example.test"])
        let gatehouse = try await GatehouseProcess.serve(db: directory.file("g.db"), environment: Self.environment)
        defer { gatehouse.stop() }
        let indented = leaf.chainPEM.split(separator: "\n").map { "      \($0)" }.joined(separator: "\n")
        let file = directory.file("edge.yaml")
        try """
            format_version: 1
            certificates:
              - name: shop
                default: true
                key: "${GATEHOUSE_SHOP_KEY}"
                cert: |
            \(indented)
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let cli = ["GATEHOUSE_ADMIN_URL": "http://127.0.0.1:\(gatehouse.ports.admin)", "GATEHOUSE_SHOP_KEY": leaf.keyPEM]
        let synced = try await GatehouseProcess.run(["sync", file], environment: cli)
        #expect(synced.status == 0, "\(synced.output)")
        let again = try await GatehouseProcess.run(["sync", file], environment: cli)
        #expect(again.status == 0 && again.output.contains("nothing to change"), "\(again.output)")
        let dump = try await GatehouseProcess.run(["dump", "--output", directory.file("dump.yaml")], environment: cli)
        #expect(dump.status == 0)
        let dumped = try String(contentsOfFile: directory.file("dump.yaml"), encoding: .utf8)
        #expect(dumped.contains("key_ref:") && !dumped.contains(leaf.keyMarker))
        let back = try await GatehouseProcess.run(["sync", directory.file("dump.yaml")], environment: cli)
        #expect(back.status == 0 && back.output.contains("nothing to change"), "\(back.output)")
        // Another certificate's key in the file: refused, and the message does not quote the key.
        let other = try chain.leaf(["other.example.test"])
        let mismatched = try await GatehouseProcess.run(["sync", file], environment: cli.merging(["GATEHOUSE_SHOP_KEY": other.keyPEM]) { _, new in new })
        #expect(mismatched.status != 0)
        #expect(mismatched.output.contains("does not match the certificate's public key"), "\(mismatched.output)")
        #expect(!mismatched.output.contains(other.keyMarker))
    }

    @Test func certificatesAreRefusedWithoutASecretKeyAndADataPlaneWithoutOneKeepsTheLastGood() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let chain = try TestChain()
        let leaf = try chain.leaf(["shop.example.test"])
        let bare = try await GatehouseProcess.serve(db: directory.file("bare.db"), environment: ["GATEHOUSE_SECRET_KEY": ""])
        defer { bare.stop() }
        let refused = try await httpRequest(
            port: bare.ports.admin, .POST, "/certificates", json: ["name": "shop", "cert": .string(leaf.chainPEM), "key": .string(leaf.keyPEM)])
        #expect(refused.status == 400)
        #expect(refused.text.contains("GATEHOUSE_SECRET_KEY"))
        let short = try await GatehouseProcess.run(
            ["serve", "--db", directory.file("s.db"), "--proxy-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0"],
            environment: ["GATEHOUSE_SECRET_KEY": "too-short"])
        #expect(short.status == 64)
        #expect(short.output.contains("GATEHOUSE_SECRET_KEY must be at least 32 characters"))

        // A data plane with another secret cannot open the key: it refuses the version and serves the one before.
        let token = "tls-cluster-token-0123456789abcdef"
        let cp = try await GatehouseProcess.controlPlane(db: directory.file("cp.db"), token: token, environment: Self.environment)
        defer { cp.stop() }
        let upstream = try await TestUpstream.start()
        try await cp.routeEverything(to: upstream)
        let dp = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: token, cacheDir: directory.file("dp"),
            environment: ["GATEHOUSE_SECRET_KEY": String(repeating: "x", count: 40)])
        defer { dp.stop() }
        try await dp.waitForConfigVersion(2)
        let created = try await httpRequest(
            port: cp.ports.admin, .POST, "/certificates", json: ["name": "shop", "cert": .string(leaf.chainPEM), "key": .string(leaf.keyPEM)])
        #expect(created.status == 201)
        try await waitUntil("the data plane to refuse version 3") {
            let status = try await httpRequest(port: dp.ports.status, .GET, "/status").json
            return status["last_rejection"]?["version"]?.intValue == 3
        }
        let status = try await httpRequest(port: dp.ports.status, .GET, "/status").json
        #expect(status["config_version"]?.intValue == 2)
        #expect(status.canonicalString.contains("was sealed with another GATEHOUSE_SECRET_KEY"), "\(status)")
    }
}
