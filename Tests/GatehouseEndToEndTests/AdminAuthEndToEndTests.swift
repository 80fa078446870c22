import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// Admin authentication and the audit trail as an operator meets them: `gatehouse serve`, the
/// CLI, and a config directory, all real processes.
@Suite struct AdminAuthEndToEndTests {
    static let bootstrap = "e2e-bootstrap-secret-0123456789"

    @Test func anAdminAPIBeyondLoopbackWithoutAuthIsRefusedAtStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let base = ["serve", "--db", directory.file("g.db"), "--proxy-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0"]
        // Nothing is bound: the refusal comes before any listener.
        let off = try await GatehouseProcess.run(base + ["--admin-listen", "0.0.0.0:0", "--admin-auth", "off"])
        #expect(off.status == 2)
        #expect(off.output.contains("refusing to serve the admin API on 0.0.0.0:0 without authentication"))
        // Beyond loopback authentication is on by itself, and with no token at all nobody could get in.
        let noToken = try await GatehouseProcess.run(base + ["--admin-listen", "0.0.0.0:0"], environment: ["GATEHOUSE_ADMIN_TOKEN": ""])
        #expect(noToken.status == 2)
        #expect(noToken.output.contains("no admin token exists yet: set GATEHOUSE_ADMIN_TOKEN"))
        let short = try await GatehouseProcess.run(base + ["--admin-listen", "127.0.0.1:0", "--admin-auth", "on"], environment: ["GATEHOUSE_ADMIN_TOKEN": "short"])
        #expect(short.status == 2)
        #expect(short.output.contains("16 characters or more"))
    }

    @Test func storedTokensKeepAuthenticationOnWithoutTheBootstrap() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try await GatehouseProcess.serve(db: directory.file("g.db"), environment: ["GATEHOUSE_ADMIN_TOKEN": Self.bootstrap])
        let created = try await httpRequest(
            port: first.ports.admin, .POST, "/admin-tokens", headers: [("Authorization", "Bearer \(Self.bootstrap)")],
            json: ["name": "ops", "role": "admin"])
        #expect(created.status == 201)
        let token = try #require(created.json["token"]?.stringValue)
        _ = await first.terminate()
        // Started again on loopback with neither a bootstrap token nor --admin-auth: the stored token is still needed.
        let second = try await GatehouseProcess.serve(db: directory.file("g.db"), environment: ["GATEHOUSE_ADMIN_TOKEN": ""])
        #expect(try await httpRequest(port: second.ports.admin, .POST, "/admin-tokens", json: ["name": "minted", "role": "admin"]).status == 401)
        #expect(try await httpRequest(port: second.ports.admin, .GET, "/routes", headers: [("Authorization", "Bearer \(token)")]).status == 200)
    }

    @Test func logAndVersionsShowWhoChangedWhatFromWhereThroughTheAPIAndTheCLI() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // On loopback, with `--admin-auth auto`: a bootstrap token given turns authentication on.
        let gatehouse = try await GatehouseProcess.serve(db: directory.file("g.db"), environment: ["GATEHOUSE_ADMIN_TOKEN": Self.bootstrap])
        let admin = gatehouse.ports.admin
        let url = "http://127.0.0.1:\(admin)"
        #expect(try await httpRequest(port: admin, .GET, "/routes").status == 401)
        #expect(try await httpRequest(port: admin, .POST, "/admin-tokens", json: ["name": "minted", "role": "admin"]).status == 401)
        let cli = ["GATEHOUSE_ADMIN_URL": url, "GATEHOUSE_ADMIN_TOKEN": Self.bootstrap]
        let created = try await GatehouseProcess.run(["admin-token", "create", "--name", "release-bot", "--role", "editor"], environment: cli)
        #expect(created.status == 0, "\(created.output)")
        let token = try #require(created.output.split(separator: "\n").last { $0.hasPrefix("gh_") }.map(String.init))
        let listed = try await GatehouseProcess.run(["admin-token", "list"], environment: cli)
        #expect(listed.output.contains("release-bot  editor"))
        #expect(!listed.output.contains(String(token.split(separator: "_").last!)))

        // The API with the bot's token, then `gatehouse sync` with it.
        let upstream = try await httpRequest(
            port: admin, .POST, "/upstreams", headers: [("Authorization", "Bearer \(token)")], json: ["name": "api", "targets": [["target": "127.0.0.1:9"]]])
        #expect(upstream.status == 201)
        let files = directory.file("files")
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        try #"{"format_version": 1, "upstreams": [{"name": "api", "targets": [{"target": "127.0.0.1:9"}]}, {"name": "web", "targets": [{"target": "127.0.0.1:10"}]}]}"#
            .write(toFile: files + "/config.json", atomically: true, encoding: .utf8)
        let synced = try await GatehouseProcess.run(["sync", files], environment: cli.merging(["GATEHOUSE_ADMIN_TOKEN": token]) { _, new in new })
        #expect(synced.status == 0, "\(synced.output)")
        // A viewer may read the log, not write.
        let viewer = try await GatehouseProcess.run(["admin-token", "create", "--name", "auditor", "--role", "viewer"], environment: cli)
        let viewerToken = try #require(viewer.output.split(separator: "\n").last { $0.hasPrefix("gh_") }.map(String.init))
        let asViewer = cli.merging(["GATEHOUSE_ADMIN_TOKEN": viewerToken]) { _, new in new }
        try #"{"format_version": 1, "upstreams": [{"name": "api", "targets": [{"target": "127.0.0.1:9"}]}]}"#
            .write(toFile: files + "/config.json", atomically: true, encoding: .utf8)
        let refused = try await GatehouseProcess.run(["sync", files], environment: asViewer)
        #expect(refused.status != 0)
        #expect(refused.output.contains("the viewer role may not PUT /config: it needs editor"))

        let log = try await GatehouseProcess.run(["log"], environment: asViewer)
        #expect(log.status == 0)
        let lines = log.output.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(lines.count == 2)
        #expect(lines.first?.contains("release-bot@127.0.0.1 (gatehouse sync): create upstream web") == true, "\(log.output)")
        #expect(lines.last?.contains("release-bot@127.0.0.1 (admin API): create upstream api") == true, "\(log.output)")
        let versions = try await httpRequest(port: admin, .GET, "/versions", headers: [("Authorization", "Bearer \(viewerToken)")])
        #expect(versions.json["data"]?.arrayValue?.first?["author"] == "release-bot")
        #expect(versions.json["data"]?.arrayValue?.first?["address"] == "127.0.0.1")

        let show = try await GatehouseProcess.run(["show", "2"], environment: asViewer)
        #expect(show.status == 0)
        #expect(show.output.contains("create upstream web"))
        #expect(show.output.contains(#"+   "name": "web","#))
        // Refusals are logged with the address.
        #expect(gatehouse.output.contains("admin request refused"))
        #expect(gatehouse.output.contains("address=127.0.0.1"))
    }

    @Test func aConfigDirectorysVersionsSaySo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let files = directory.file("config")
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        try #"{"format_version": 1, "upstreams": [{"name": "api", "targets": [{"target": "127.0.0.1:9"}]}]}"#
            .write(toFile: files + "/config.json", atomically: true, encoding: .utf8)
        let gatehouse = try await GatehouseProcess.serve(db: directory.file("g.db"), extraArguments: ["--config-dir", files])
        try await waitUntil("the directory applied") {
            (try await httpRequest(port: gatehouse.ports.admin, .GET, "/versions")).json["data"]?.arrayValue?.isEmpty == false
        }
        let log = try await GatehouseProcess.run(["log"], environment: ["GATEHOUSE_ADMIN_URL": "http://127.0.0.1:\(gatehouse.ports.admin)"])
        #expect(log.output.contains("config-dir (config directory): config directory \(files)"), "\(log.output)")
    }
}
