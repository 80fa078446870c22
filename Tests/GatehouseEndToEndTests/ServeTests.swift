import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Synchronization
import Testing

/// The real `gatehouse serve` process, driven over its ports as a user would.
@Suite(.serialized) struct ServeTests {
    @Test func aRouteCreatedThroughTheAdminAPIServesTheVeryNextRequest() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "recipes-service")
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }

        #expect(try await httpRequest(port: gatehouse.ports.status, .GET, "/status/ready").status == 200)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/api/recipes").status == 404)
        let created = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/upstreams", json: ["name": "main-api", "targets": [["target": .string(upstream.target)]]])
        #expect(created.status == 201)
        let route = try await httpRequest(
            port: gatehouse.ports.admin, .POST, "/routes",
            json: [
                "name": "recipes", "paths": ["/api/recipes"], "methods": ["GET", "POST"], "strip_path": true, "upstream": "main-api",
            ])
        #expect(route.status == 201)
        #expect(route.header("gatehouse-config-version") == "2")

        let proxied = try await httpRequest(port: gatehouse.ports.proxy, .GET, "/api/recipes/42")
        #expect(proxied.status == 200)
        #expect(proxied.json["server"] == "recipes-service")
        #expect(proxied.json["uri"] == "/42")
        let status = try await httpRequest(port: gatehouse.ports.status, .GET, "/status").json
        #expect(status["config_version"] == 2)
        #expect(status["routes"] == 1)
    }

    @Test func everythingSurvivesARestart() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("gatehouse.db")
        let upstream = try await TestUpstream.start()
        var before: [String: JSONValue] = [:]
        do {
            let gatehouse = try await GatehouseProcess.serve(db: db)
            let admin = gatehouse.ports.admin
            #expect(
                try await httpRequest(port: admin, .POST, "/upstreams", json: ["name": "u", "targets": [["target": .string(upstream.target)]]]).status
                    == 201)
            #expect(try await httpRequest(port: admin, .POST, "/routes", json: ["name": "r", "paths": ["/r"], "upstream": "u"]).status == 201)
            #expect(try await httpRequest(port: admin, .POST, "/consumers", json: ["name": "web-app"]).status == 201)
            #expect(try await httpRequest(port: admin, .POST, "/consumers/web-app/credentials", json: ["type": "key-auth"]).status == 201)
            #expect(
                try await httpRequest(
                    port: admin, .POST, "/policies",
                    json: [
                        "name": "limit", "type": "rate-limit", "route": "r", "enabled": false, "config": ["limit": 10, "window": "1m"],
                    ]
                ).status == 201)
            for path in ["/config", "/versions", "/consumers/web-app/credentials"] {
                before[path] = try await httpRequest(port: admin, .GET, path).json
            }
            #expect(await gatehouse.terminate() == 0)
        }
        let gatehouse = try await GatehouseProcess.serve(db: db)
        defer { gatehouse.stop() }
        for (path, json) in before {
            #expect(try await httpRequest(port: gatehouse.ports.admin, .GET, path).json == json, "\(path)")
        }
        try await gatehouse.waitForConfigVersion(5)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/r").status == 200)
    }

    @Test func killDashNineKeepsEveryAcknowledgedWriteAndNoRefusedOne() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("gatehouse.db")
        let gatehouse = try await GatehouseProcess.serve(db: db)
        let acknowledged = NameList()
        let refused = NameList()
        let stopped = StopSignal()
        let port = gatehouse.ports.admin
        let burst = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<400 where !stopped.isSet {
                    group.addTask {
                        // Once the process is killed its port is free, and a server another test
                        // starts meanwhile may be given it: nothing more is sent there.
                        guard !stopped.isSet else { return }
                        // Every fifth write is invalid and must never appear.
                        let name = "u\(index)"
                        let body: JSONValue =
                            index % 5 == 4
                            ? ["name": .string(name), "targets": [["target": "not-a-target"]]]
                            : ["name": .string(name), "targets": [["target": "127.0.0.1:9"]]]
                        guard let reply = try? await httpRequest(port: port, .POST, "/upstreams", json: body) else { return }
                        if reply.status == 201 { acknowledged.append(name) }
                        if reply.status == 400 { refused.append(name) }
                    }
                    if index % 8 == 7 { await group.waitForAll() }
                }
            }
        }
        try await waitUntil("some writes to be acknowledged") { acknowledged.names.count >= 40 }
        stopped.set()
        gatehouse.kill9()
        await burst.value

        let restarted = try await GatehouseProcess.serve(db: db)
        defer { restarted.stop() }
        let stored =
            try await httpRequest(port: restarted.ports.admin, .GET, "/upstreams").json["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            ?? []
        let storedSet = Set(stored)
        let acked = acknowledged.names
        #expect(acked.count >= 40)
        #expect(Set(acked).isSubset(of: storedSet), "lost: \(Set(acked).subtracting(storedSet))")
        #expect(storedSet.isDisjoint(with: refused.names))
        let versions = try await httpRequest(port: restarted.ports.admin, .GET, "/versions?limit=1000").json
        #expect(versions["current"]?.intValue == stored.count)
        #expect(versions["data"]?.arrayValue?.count == stored.count)
    }

    @Test func rollingBackServesExactlyThatVersionsRoutes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        _ = try await httpRequest(port: admin, .POST, "/upstreams", json: ["name": "u", "targets": [["target": .string(upstream.target)]]])
        _ = try await httpRequest(port: admin, .POST, "/routes", json: ["name": "a", "paths": ["/a"], "upstream": "u"])  // v2
        _ = try await httpRequest(port: admin, .POST, "/routes", json: ["name": "b", "paths": ["/b"], "upstream": "u"])  // v3
        _ = try await httpRequest(port: admin, .DELETE, "/routes/a")  // v4

        func served() async throws -> [Int] {
            var statuses: [Int] = []
            for path in ["/a", "/b"] { statuses.append(try await httpRequest(port: gatehouse.ports.proxy, .GET, path).status) }
            return statuses
        }
        try await gatehouse.waitForConfigVersion(4)
        #expect(try await served() == [404, 200])
        let toTwo = try await httpRequest(port: admin, .POST, "/versions/2/rollback")
        #expect(toTwo.json["version"] == 5)
        try await gatehouse.waitForConfigVersion(5)
        #expect(try await served() == [200, 404])
        _ = try await httpRequest(port: admin, .POST, "/versions/3/rollback")
        try await gatehouse.waitForConfigVersion(6)
        #expect(try await served() == [200, 200])
        let v3 = try await httpRequest(port: admin, .GET, "/versions/3")
        let v6 = try await httpRequest(port: admin, .GET, "/versions/6")
        #expect(v3.header("gatehouse-config-hash") == v6.header("gatehouse-config-hash"))
    }

    @Test func edgeLimitsComeFromFlags() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(
            db: dir.file("gatehouse.db"), extraArguments: ["--max-body-size", "10", "--trusted-proxies", "127.0.0.1/32"]
        )
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)
        let tooBig = try await httpRequest(port: gatehouse.ports.proxy, .POST, "/", json: ["eleven": "bytes+"])
        #expect(tooBig.status == 413)
        let forwarded = try await httpRequest(port: gatehouse.ports.proxy, .GET, "/", headers: [("X-Forwarded-For", "203.0.113.9")])
        #expect(forwarded.json["headers"]?["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"])
    }

    @Test func versionAndHelpRead() async throws {
        let version = try await GatehouseProcess.run(["--version"])
        #expect(version.status == 0)
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == GatehouseVersion.current)
        let help = try await GatehouseProcess.run(["serve", "--help"])
        #expect(help.status == 0)
        for flag in ["--db", "--proxy-listen", "--admin-listen", "--status-listen", "GATEHOUSE_DB", "GATEHOUSE_PROXY_LISTEN"] {
            #expect(help.output.contains(flag), "\(flag)")
        }
    }

    @Test func badFlagOrEnvironmentValuesAreUsageErrors() async throws {
        let fromEnvironment = try await GatehouseProcess.run(["serve"], environment: ["GATEHOUSE_PROXY_LISTEN": "garbage"])
        #expect(fromEnvironment.status == 64)
        #expect(fromEnvironment.output.contains("GATEHOUSE_PROXY_LISTEN='garbage' is not host:port"))
        let fromFlag = try await GatehouseProcess.run(["serve", "--workers", "0"])
        #expect(fromFlag.status == 64)
        #expect(fromFlag.output.contains("--workers must be from 1 to 256"))
    }

    @Test func environmentVariablesSetTheAddresses() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("from-env.db")
        let gatehouse = try await GatehouseProcess.serve(db: db, passDB: false, environment: ["GATEHOUSE_DB": db])
        defer { gatehouse.stop() }
        #expect(FileManager.default.fileExists(atPath: db))
    }

    @Test func aDatabaseFromANewerGatehouseIsRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("gatehouse.db")
        let gatehouse = try await GatehouseProcess.serve(db: db)
        #expect(await gatehouse.terminate() == 0)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [db, "INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0);"]
        try sqlite.run()
        _ = await sqlite.exited()
        let refused = try await GatehouseProcess.run([
            "serve", "--db", db, "--proxy-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0",
        ])
        #expect(refused.status == 3)
        #expect(refused.output.contains("newer Gatehouse"))
    }
}

final class StopSignal: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

final class NameList: Sendable {
    private let list = Mutex<[String]>([])
    func append(_ name: String) { list.withLock { $0.append(name) } }
    var names: [String] { list.withLock { $0 } }
}
