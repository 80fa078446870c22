import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// Rotating the cluster's secrets with every process running: the token through token files
/// read again when they change, the control plane's TLS certificate through its files.
@Suite struct ClusterRotationTests {
    static let old = "old-cluster-token-0123456789abcdef"
    static let new = "new-cluster-token-fedcba9876543210"

    /// Replaces `path` whole (a new inode), as configuration management writes files.
    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path + ".next", atomically: false, encoding: .utf8)
        guard rename(path + ".next", path) == 0 else { throw TimedOut(description: "cannot rename onto \(path)") }
    }

    static func status(_ plane: GatehouseProcess) async throws -> JSONValue {
        try await httpRequest(port: plane.ports.status, .GET, "/status").json
    }

    @Test func aTokenRotatesWithoutRestartingAControlPlaneOrDataPlane() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (cpTokens, dpTokens, laggardTokens) = (dir.file("cp.tokens"), dir.file("dp.tokens"), dir.file("laggard.tokens"))
        try Self.write("# the first is current\n\(Self.old)\n", to: cpTokens)
        try Self.write(Self.old + "\n", to: dpTokens)
        try Self.write(Self.old + "\n", to: laggardTokens)
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: "file:" + cpTokens)
        defer { cp.stop() }
        let url = "http://127.0.0.1:\(cp.ports.cluster)"
        let dp = try await GatehouseProcess.dataPlane(controlPlane: url, token: "file:" + dpTokens, cacheDir: dir.file("dp"))
        defer { dp.stop() }
        let laggard = try await GatehouseProcess.dataPlane(controlPlane: url, token: "file:" + laggardTokens, cacheDir: dir.file("laggard"))
        defer { laggard.stop() }
        let upstream = try await TestUpstream.start()
        try await cp.routeEverything(to: upstream)
        try await ClusterTests.waitForVersion(2, dp, laggard)

        // 1. The control plane takes the new token beside the old one; 2. the data plane moves to it.
        try Self.write("\(Self.new)\n\(Self.old)\n", to: cpTokens)
        try Self.write(Self.new + "\n", to: dpTokens)
        try await waitUntil("the data plane to reconnect with the new token", deadline: .seconds(60)) {
            dp.output.components(separatedBy: "connected to the control plane").count >= 3
        }
        #expect(try await httpRequest(port: cp.ports.admin, .POST, "/consumers", json: ["name": "after-rotation"]).status == 201)
        try await ClusterTests.waitForVersion(3, dp, laggard)
        #expect(dp.output.contains("cluster tokens read again"))

        // 3. The old token is dropped: the data plane still on it is cut off, the other serves on.
        try Self.write(Self.new + "\n", to: cpTokens)
        try await waitUntil("the laggard's stream closed and refused", deadline: .seconds(60)) {
            let status = try await Self.status(laggard)["control_plane"]
            return status?["connected"] == .bool(false) && (status?["last_error"]?.stringValue ?? "").contains("401")
        }
        #expect(cp.output.contains("its cluster token is no longer accepted"))
        #expect(try await httpRequest(port: cp.ports.admin, .POST, "/consumers", json: ["name": "old-token-gone"]).status == 201)
        try await ClusterTests.waitForVersion(4, dp)
        #expect(try await Self.status(laggard)["config_version"]?.intValue == 3, "the laggard keeps serving what it had")
        #expect(try await Self.status(dp)["control_plane"]?["connected"] == .bool(true))

        // A token file that cannot be used leaves the tokens read before in force.
        try Self.write("short\n", to: dpTokens)
        // The data plane looks at its tokens at each heartbeat.
        try await waitUntil("the bad file noticed", deadline: .seconds(60)) { dp.output.contains("the cluster token file cannot be used") }
        #expect(try await httpRequest(port: cp.ports.admin, .POST, "/consumers", json: ["name": "still-served"]).status == 201)
        let latest = try #require(try await httpRequest(port: cp.ports.admin, .GET, "/").json["config_version"]?.intValue)
        try await ClusterTests.waitForVersion(latest, dp)
    }

    @Test func aTokenFileThatCannotBeUsedStopsTheStart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.write("too-short\n", to: dir.file("tokens"))
        let run = try await GatehouseProcess.run([
            "control-plane", "--db", dir.file("cp.db"), "--admin-listen", "127.0.0.1:0", "--cluster-listen", "127.0.0.1:0",
            "--cluster-token-file", dir.file("tokens"),
        ])
        #expect(run.status == 64)
        #expect(run.output.contains("token 1 of the cluster token file must be 16 or more visible ASCII characters"))
        let both = try await GatehouseProcess.run([
            "data-plane", "--control-plane", "http://127.0.0.1:9", "--cluster-token", Self.old, "--cluster-token-file", dir.file("tokens"),
        ])
        #expect(both.status == 64)
        #expect(both.output.contains("not both"))
    }

    @Test func theControlPlanesCertificateIsReadAgainWhenItsFilesChange() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let chain = try TestChain()
        let first = try chain.leaf(["localhost"], addresses: [[127, 0, 0, 1]], commonName: "first")
        let second = try chain.leaf(["localhost"], addresses: [[127, 0, 0, 1]], commonName: "second")
        let (cert, key, ca) = (dir.file("cp.pem"), dir.file("cp.key"), dir.file("ca.pem"))
        try Self.write(first.chainPEM, to: cert)
        try Self.write(first.keyPEM, to: key)
        try Self.write(chain.caPEM, to: ca)
        let cp = try await GatehouseProcess.controlPlane(
            db: dir.file("cp.db"), token: Self.old, extraArguments: ["--cluster-cert", cert, "--cluster-key", key])
        defer { cp.stop() }
        let dp = try await GatehouseProcess.dataPlane(
            controlPlane: "https://127.0.0.1:\(cp.ports.cluster)", token: Self.old, cacheDir: dir.file("dp"), extraArguments: ["--cluster-ca", ca])
        defer { dp.stop() }
        let upstream = try await TestUpstream.start()
        try await cp.routeEverything(to: upstream)
        try await ClusterTests.waitForVersion(2, dp)

        func subject() async throws -> String {
            let run = try await ToolRun.run(
                "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(cp.ports.cluster)", "-CAfile", ca],
                outputFile: dir.file("s_client-\(UUID().uuidString).txt"))
            return run.output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? run.output
        }
        #expect(try await subject() == "subject=CN = first")
        // A key that does not match is not taken: the first pair goes on serving.
        try Self.write(second.chainPEM, to: cert)
        try await waitUntil("the mismatched pair refused", deadline: .seconds(60)) {
            _ = try await subject()
            return cp.output.contains("changed but cannot be loaded")
        }
        #expect(try await subject() == "subject=CN = first")
        try Self.write(second.keyPEM, to: key)
        try await waitUntil("the renewed certificate served", deadline: .seconds(60)) { try await subject() == "subject=CN = second" }
        // The data plane's next connection verifies the new certificate against the same CA.
        #expect(try await httpRequest(port: cp.ports.admin, .POST, "/consumers", json: ["name": "after-renewal"]).status == 201)
        try await ClusterTests.waitForVersion(3, dp)
    }
}
