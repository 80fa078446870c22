import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// `gatehouse control-plane` feeding `gatehouse data-plane` processes over the cluster protocol.
@Suite struct ClusterTests {
    static let token = "test-cluster-token-0123456789"

    static func status(_ process: GatehouseProcess) async throws -> JSONValue {
        try await httpRequest(port: process.ports.status, .GET, "/status").json
    }

    static func waitForVersion(_ version: Int, _ planes: GatehouseProcess...) async throws {
        for plane in planes {
            // From a data plane's start: its first connection (with backoff), a compile per version
            // on a nice-19 thread, a cache write and an ACK each, seen through a nice-19 status
            // thread. On two busy cores that chain has passed 20 s; the deadline is not a delay.
            do {
                try await waitUntil("data plane at version \(version)", deadline: .seconds(60)) {
                    (try await status(plane)["config_version"]?.intValue ?? -1) >= version
                }
            } catch let error as TimedOut {
                throw TimedOut(description: "\(error); its output:\n\(plane.output.suffix(4000))")
            }
        }
    }

    static func dataPlanes(_ controlPlane: GatehouseProcess) async throws -> [JSONValue] {
        try await httpRequest(port: controlPlane.ports.admin, .GET, "/data-planes").json["data"]?.arrayValue ?? []
    }

    @Test func aRouteReachesEveryDataPlaneAndEachShowsInSync() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        let url = "http://127.0.0.1:\(cp.ports.cluster)"
        let one = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("one"))
        defer { one.stop() }
        let two = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("two"))
        defer { two.stop() }

        let created = try await httpRequest(
            port: cp.ports.admin, .POST, "/upstreams", json: ["name": "u", "targets": [["target": .string(upstream.target)]]])
        #expect(created.status == 201)
        let routed = try await httpRequest(port: cp.ports.admin, .POST, "/routes", json: ["name": "all", "upstream": "u"])
        #expect(routed.header("gatehouse-config-version") == "2")
        try await Self.waitForVersion(2, one, two)
        for plane in [one, two] {
            let answered = try await httpRequest(port: try await plane.waitForProxy(), .GET, "/hello")
            #expect(answered.json["server"] == "origin")
        }
        try await waitUntil("both data planes reported in sync") {
            let planes = try await Self.dataPlanes(cp)
            return planes.count == 2 && planes.allSatisfy { $0["status"] == "in_sync" && $0["config_version"] == 2 }
        }
        let planes = try await Self.dataPlanes(cp)
        let ids = Set(planes.compactMap { $0["id"]?.stringValue })
        #expect(
            ids == Set([try await Self.status(one)["node_id"]?.stringValue, try await Self.status(two)["node_id"]?.stringValue].compactMap { $0 }))
        #expect(planes.allSatisfy { $0["connected"] == true && $0["gatehouse_version"]?.stringValue?.isEmpty == false })
        // The control plane timed each ACK from the version's commit.
        #expect(
            planes.allSatisfy {
                switch $0["apply_ms"] {
                case .double(let ms): ms >= 0
                case .int(let ms): ms >= 0
                default: false
                }
            }, "\(planes)")
    }

    @Test func twoDataPlaneProcessesSharingRedisEnforceOneRateLimitTogether() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let redis = try await TestRedis.start()
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        let url = "http://127.0.0.1:\(cp.ports.cluster)"
        // Redis must answer every count here, however loaded the machine is.
        let slowRedisOK = ["--redis-timeout", "10s"]
        let one = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("one"), extraArguments: slowRedisOK)
        defer { one.stop() }
        let two = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("two"), extraArguments: slowRedisOK)
        defer { two.stop() }
        let admin = cp.ports.admin
        let writes: [(String, JSONValue)] = [
            ("/upstreams", ["name": "u", "targets": [["target": .string(upstream.target)]]]),
            ("/routes", ["name": "all", "upstream": "u"]),
            ("/consumers", ["name": "web-app"]),
            ("/consumers/web-app/credentials", ["type": "key-auth", "key": "shared-key-0123456789"]),
            ("/policies", ["name": "auth", "type": "key-auth"]),
            (
                "/policies",
                [
                    "name": "shared", "type": "rate-limit",
                    "config": ["limit": 5, "window": "31d", "backend": "redis", "redis_url": .string(redis.url)],
                ]
            ),
        ]
        for (path, body) in writes { #expect(try await httpRequest(port: admin, .POST, path, json: body).status == 201) }
        try await Self.waitForVersion(6, one, two)
        let ports = [try await one.waitForProxy(), try await two.waitForProxy()]
        var statuses: [Int] = []
        for index in 0..<8 {
            statuses.append(try await httpRequest(port: ports[index % 2], .GET, "/x", headers: [("apikey", "shared-key-0123456789")]).status)
        }
        #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
    }

    @Test func dataPlanesServeWithoutTheControlPlaneFromTheirCacheAndCatchUpWhenItReturns() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        var cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        let clusterPort = cp.ports.cluster
        let url = "http://127.0.0.1:\(clusterPort)"
        let one = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("one"))
        defer { one.stop() }
        var two = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("two"))
        try await cp.routeEverything(to: upstream)
        try await Self.waitForVersion(2, one, two)

        cp.kill9()
        let onePort = try await one.waitForProxy()
        #expect(try await httpRequest(port: onePort, .GET, "/").status == 200)
        #expect(try await httpRequest(port: try await two.waitForProxy(), .GET, "/").status == 200)

        // Restarted while the control plane is down: it serves its cached snapshot.
        #expect(await two.terminate() == 0)
        two = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("two"))
        defer { two.stop() }
        try await Self.waitForVersion(2, two)
        #expect(try await Self.status(two)["ready"] == true)
        #expect(try await httpRequest(port: try await two.waitForProxy(), .GET, "/").status == 200)

        // The control plane comes back; a version committed now reaches both.
        cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token, clusterPort: clusterPort)
        defer { cp.stop() }
        let added = try await httpRequest(
            port: cp.ports.admin, .POST, "/routes", json: ["name": "later", "paths": ["/later"], "strip_path": true, "upstream": "u"])
        #expect(added.status == 201)
        try await Self.waitForVersion(3, one, two)
        for port in [onePort, try await two.waitForProxy()] {
            #expect(try await httpRequest(port: port, .GET, "/later/x").json["uri"] == "/x")
        }
    }

    @Test func aSnapshotADataPlaneCannotApplyShowsAsRejectedWhileTheLastGoodServes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        // This data plane's own limit is below what the control plane admits: the admin API takes
        // the version, the data plane refuses it from its frame's header, before reading it.
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: Self.token, cacheDir: dir.file("dp"),
            extraArguments: ["--cluster-max-frame-size", "4KiB"])
        defer { plane.stop() }
        try await cp.routeEverything(to: upstream)
        try await Self.waitForVersion(2, plane)

        let paths: [JSONValue] = (0..<400).map { .string("/large/path-\($0)") }
        let large = try await httpRequest(port: cp.ports.admin, .POST, "/routes", json: ["name": "large", "paths": .array(paths), "upstream": "u"])
        #expect(large.status == 201)
        try await waitUntil("the rejection to be reported") {
            try await Self.dataPlanes(cp).first?["status"] == "rejected"
        }
        let entry = try #require(try await Self.dataPlanes(cp).first)
        #expect(entry["config_version"] == 2)
        let error = entry["error"]?.stringValue ?? ""
        #expect(error.contains("version 3"), "\(error)")
        #expect(error.contains("over this data plane's limit of 4096 (--cluster-max-frame-size"), "\(error)")
        #expect(try await httpRequest(port: try await plane.waitForProxy(), .GET, "/").status == 200)
        #expect(try await Self.status(plane)["last_rejection"]?["version"] == 3)
        #expect(try await Self.status(plane)["config_version"] == 2)
        #expect(plane.output.contains("config rejected; the last good config keeps serving"))
    }

    @Test func aDataPlaneFollowingAHundredSingleRouteChangesTakesDeltasAndStaysHashEqual() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: Self.token, cacheDir: dir.file("dp"), extraArguments: ["--log-level", "debug"])
        defer { plane.stop() }
        try await cp.routeEverything(to: upstream)
        try await Self.waitForVersion(2, plane)

        // Creations, changes and deletions, one route each, as fast as the admin API takes them.
        for index in 0..<100 {
            let response: TestResponse
            switch index % 4 {
            case 3: response = try await httpRequest(port: cp.ports.admin, .DELETE, "/routes/r\(index - 3)")
            case 2:
                response = try await httpRequest(
                    port: cp.ports.admin, .PATCH, "/routes/r\(index - 1)", json: ["paths": [.string("/moved/\(index - 1)")]])
            default:
                response = try await httpRequest(
                    port: cp.ports.admin, .POST, "/routes", json: ["name": .string("r\(index)"), "paths": [.string("/r/\(index)")], "strip_path": true, "upstream": "u"])
            }
            #expect(response.status < 300, "change \(index): \(response.status) \(response.text)")
        }
        try await Self.waitForVersion(102, plane)
        let controlPlane = try await httpRequest(port: cp.ports.admin, .GET, "/").json
        let served = try await Self.status(plane)
        #expect(controlPlane["config_version"] == 102 && served["config_version"] == 102)
        #expect(served["config_hash"] == controlPlane["config_hash"], "\(served) \(controlPlane)")
        try await waitUntil("the data plane reported in sync") { try await Self.dataPlanes(cp).first?["status"] == "in_sync" }
        // The versions after the first came as deltas, none refused.
        #expect(plane.output.components(separatedBy: "delta applied").count > 1, "\(plane.output.suffix(2000))")
        #expect(!plane.output.contains("asking it for the whole snapshot"))
        let port = try await plane.waitForProxy()
        // Of each four: r(4k) created then deleted, r(4k+1) created then moved.
        #expect(try await httpRequest(port: port, .GET, "/moved/97/y").json["uri"] == "/y")
        #expect(try await httpRequest(port: port, .GET, "/moved/1/z").json["uri"] == "/z")
        #expect(try await httpRequest(port: port, .GET, "/r/96/x").json["uri"] == "/r/96/x")  // deleted: the catch-all route
    }

    @Test func aDataPlaneWithAWrongTokenGetsNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        try await cp.routeEverything(to: upstream)
        let intruder = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: "not-the-cluster-token", cacheDir: dir.file("dp"))
        defer { intruder.stop() }
        try await waitUntil("the refusal") {
            try await Self.status(intruder)["control_plane"]?["last_error"]?.stringValue?.contains("401") == true
        }
        #expect(try await Self.status(intruder)["ready"] == false)
        #expect(try await Self.status(intruder)["config_version"] == .null)
        #expect(try await Self.dataPlanes(cp).isEmpty)
    }

    @Test func aTamperedCacheIsRefusedAndTheDataPlaneWaitsForTheControlPlane() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        let url = "http://127.0.0.1:\(cp.ports.cluster)"
        var plane = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("dp"))
        try await cp.routeEverything(to: upstream)
        try await Self.waitForVersion(2, plane)
        #expect(await plane.terminate() == 0)
        cp.kill9()

        let cache = dir.file("dp/snapshot.json")
        let text = try String(contentsOfFile: cache, encoding: .utf8)
        #expect(text.contains("\"name\":\"all\""))
        try text.replacingOccurrences(of: "\"name\":\"all\"", with: "\"name\":\"evil\"").write(toFile: cache, atomically: true, encoding: .utf8)
        plane = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("dp"))
        defer { plane.stop() }
        try await waitUntil("the refusal to be logged") { plane.output.contains("the cached snapshot is refused") }
        #expect(plane.output.contains("does not match its hash"))
        #expect(try await Self.status(plane)["ready"] == false)
    }

    @Test func serveListsItsEmbeddedDataPlane() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try await gatehouse.routeEverything(to: upstream)
        let planes = try await Self.dataPlanes(gatehouse)
        #expect(planes.count == 1)
        #expect(planes.first?["id"] == "embedded")
        #expect(planes.first?["status"] == "in_sync")
        #expect(planes.first?["config_version"] == 2)
    }

    @Test func overMutualTLSOnlyADataPlaneWithACertificateTheCASignedGetsIn() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try await TestCertificates.make().write(to: dir)
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(
            db: dir.file("cp.db"), token: Self.token,
            extraArguments: ["--cluster-cert", dir.file("server.pem"), "--cluster-key", dir.file("server.key"), "--cluster-ca", dir.file("ca.pem")])
        defer { cp.stop() }
        try await cp.routeEverything(to: upstream)
        let url = "https://127.0.0.1:\(cp.ports.cluster)"
        let trusted = try await GatehouseProcess.dataPlane(
            controlPlane: url, token: Self.token, cacheDir: dir.file("trusted"),
            extraArguments: ["--cluster-ca", dir.file("ca.pem"), "--cluster-cert", dir.file("client.pem"), "--cluster-key", dir.file("client.key")])
        defer { trusted.stop() }
        try await Self.waitForVersion(2, trusted)
        #expect(try await httpRequest(port: try await trusted.waitForProxy(), .GET, "/").json["server"] == "origin")

        // The right token is not enough without a client certificate, nor is plain HTTP.
        let anonymous = try await GatehouseProcess.dataPlane(
            controlPlane: url, token: Self.token, cacheDir: dir.file("anonymous"), extraArguments: ["--cluster-ca", dir.file("ca.pem")])
        defer { anonymous.stop() }
        let plain = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: Self.token, cacheDir: dir.file("plain"))
        defer { plain.stop() }
        for refused in [anonymous, plain] {
            try await waitUntil("the refusal") { try await Self.status(refused)["control_plane"]?["last_error"] != .null }
            #expect(try await Self.status(refused)["ready"] == false)
        }
        #expect(try await Self.dataPlanes(cp).count == 1)
    }

    @Test func aReportOutOfRangeIsRefusedAndTheControlPlaneKeepsAnswering() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(cp.ports.cluster)", token: Self.token, cacheDir: dir.file("dp"))
        defer { plane.stop() }
        try await cp.routeEverything(to: upstream)
        try await waitUntil("the data plane in sync") { try await Self.dataPlanes(cp).first?["status"] == "in_sync" }
        let node = try #require(try await Self.status(plane)["node_id"]?.stringValue)
        let hash = try #require(try await Self.status(plane)["config_hash"]?.stringValue)
        let auth = [("authorization", "Bearer \(Self.token)")]

        // What the probe sent: a live node id and the lowest Int; then other values out of form.
        let reports: [JSONValue] = [
            ["node_id": .string(node), "type": "applied", "version": .int(Int.min), "hash": "x"],
            ["node_id": .string(node), "type": "applied", "version": .int(Int.max), "hash": .string(hash)],
            ["node_id": .string(node), "type": "applied", "version": -1, "hash": .string(hash)],
            ["node_id": .string(node), "type": "applied", "version": 2, "hash": "not-a-digest"],
            ["node_id": .string(node), "type": "rejected", "version": 3, "hash": .string(hash), "reason": .string(String(repeating: "x", count: 5000))],
            ["node_id": .string(node), "type": "heartbeat", "version": 2],
        ]
        for report in reports {
            let answer = try await httpRequest(port: cp.ports.cluster, .POST, "/cluster/v1/reports", headers: auth, json: report)
            #expect(answer.status == 400, "\(report)")
            #expect(answer.json["error"]?["code"] == "bad_report")
            // The probe's crash came with the next listing.
            #expect(try await httpRequest(port: cp.ports.admin, .GET, "/data-planes").status == 200)
        }
        // The stream's hello is checked the same way.
        let hello = try await httpRequest(
            port: cp.ports.cluster, .GET, "/cluster/v1/stream",
            headers: auth + [
                ("gatehouse-node-id", "intruder"), ("gatehouse-cluster-protocol", "1"), ("gatehouse-config-version", "-9223372036854775808"),
                ("gatehouse-config-hash", hash),
            ])
        #expect(hello.status == 400)
        #expect(hello.json["error"]?["message"]?.stringValue?.contains("Gatehouse-Config-Version") == true)

        // Still up, and what it shows is what the data plane really reported.
        #expect(cp.isRunning)
        let planes = try await Self.dataPlanes(cp)
        #expect(planes.count == 1)
        #expect(planes.first?["config_version"] == 2 && planes.first?["status"] == "in_sync" && planes.first?["behind"] == 0)
        let valid = try await httpRequest(
            port: cp.ports.cluster, .POST, "/cluster/v1/reports", headers: auth,
            json: ["node_id": .string(node), "type": "heartbeat", "version": 2, "hash": .string(hash)])
        #expect(valid.status == 204)
    }

    @Test func aDatabaseRestoredFromABackupResetsTheDataPlanesToItsVersion() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let db = dir.file("cp.db")
        var cp = try await GatehouseProcess.controlPlane(db: db, token: Self.token)
        let clusterPort = cp.ports.cluster
        let url = "http://127.0.0.1:\(clusterPort)"
        var plane = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("dp"))
        defer { plane.stop() }
        try await cp.routeEverything(to: upstream)
        try await Self.waitForVersion(2, plane)
        let backup = dir.file("backup.db")
        // As docs/operations.md says to back up, while the control plane runs.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [db, ".backup '\(backup)'"]
        try sqlite.run()
        _ = await sqlite.exited()
        #expect(sqlite.terminationStatus == 0)

        // Two more versions after the backup: the data plane serves version 4, with route "later".
        for name in ["later", "latest"] {
            let added = try await httpRequest(
                port: cp.ports.admin, .POST, "/routes", json: ["name": .string(name), "paths": [.string("/\(name)")], "upstream": "u"])
            #expect(added.status == 201)
        }
        try await Self.waitForVersion(4, plane)
        #expect(try await httpRequest(port: try await plane.waitForProxy(), .GET, "/later").json["uri"] == "/later")

        // The database is restored: the control plane goes on from version 2.
        #expect(await cp.terminate() == 0)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: db)
        cp = try await GatehouseProcess.controlPlane(db: db, token: Self.token, clusterPort: clusterPort)
        defer { cp.stop() }
        try await waitUntil("the data plane back at version 2") { try await Self.status(plane)["config_version"] == 2 }
        try await waitUntil("the reset logged") { plane.output.contains("history started again") }
        #expect(try await httpRequest(port: try await plane.waitForProxy(), .GET, "/later").status == 200)
        try await waitUntil("the data plane in sync at version 2") {
            let entry = try await Self.dataPlanes(cp).first
            return entry?["status"] == "in_sync" && entry?["config_version"] == 2
        }
        let routed = try await httpRequest(port: try await plane.waitForProxy(), .GET, "/later")
        #expect(routed.json["uri"] == "/later")  // now through route "all", the only one version 2 has
        #expect(try await Self.status(plane)["config_epoch"] == (try await Self.dataPlanes(cp).first?["config_epoch"]))

        // Restarted, it serves version 2 from its cache, and is still in sync.
        #expect(await plane.terminate() == 0)
        plane = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("dp"))
        try await waitUntil("the cached version served") { try await Self.status(plane)["config_version"] == 2 }
        #expect(plane.output.contains("serving the cached snapshot"))
        try await waitUntil("the restarted data plane in sync") {
            let entry = try await Self.dataPlanes(cp).first { $0["connected"] == true }
            return entry?["status"] == "in_sync" && entry?["config_version"] == 2
        }
        // A version written now reaches it as usual: version 3 of the restored history.
        let added = try await httpRequest(port: cp.ports.admin, .POST, "/routes", json: ["name": "after", "paths": ["/after"], "upstream": "u"])
        #expect(added.header("gatehouse-config-version") == "3")
        try await Self.waitForVersion(3, plane)
    }

    @Test func aPlainHTTPControlPlaneBeyondLoopbackIsRefusedUnlessTheOperatorSaysSo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let refused = try await Self.exit(of: [
            "data-plane", "--control-plane", "http://10.20.30.40:8005", "--cluster-token", Self.token, "--cache-dir", dir.file("dp"),
            "--status-listen", "127.0.0.1:0",
        ])
        #expect(refused.status == 64)
        #expect(refused.output.contains("plain HTTP beyond loopback"))
        #expect(refused.output.contains("--cluster-insecure"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("dp")))

        // 0.0.0.0 is not a loopback address to the check, yet Linux connects it to this host: with the
        // flag (or its variable), the data plane starts and follows the control plane over plain HTTP.
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        defer { cp.stop() }
        try await cp.routeEverything(to: upstream)
        let unspecified = "http://0.0.0.0:\(cp.ports.cluster)"
        let withoutFlag = try await Self.exit(of: [
            "data-plane", "--control-plane", unspecified, "--cluster-token", Self.token, "--cache-dir", dir.file("dp"),
            "--status-listen", "127.0.0.1:0", "--proxy-listen", "127.0.0.1:0",
        ])
        #expect(withoutFlag.status == 64)
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: unspecified, token: Self.token, cacheDir: dir.file("dp"), extraArguments: ["--cluster-insecure"])
        defer { plane.stop() }
        try await Self.waitForVersion(2, plane)
    }

    /// Runs `gatehouse` expecting it to exit by itself; one still running at the deadline is
    /// killed and reported as status -1.
    static func exit(of arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: GatehouseProcess.binary)
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-exit-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        do {
            try await waitUntil("gatehouse to exit") { !process.isRunning }
        } catch {
            process.terminate()
            _ = await process.exited()
            return (-1, try String(contentsOf: output, encoding: .utf8))
        }
        return (await process.exited(), try String(contentsOf: output, encoding: .utf8))
    }

    @Test func aCacheRewrittenWithAnotherDocumentAndItsOwnHashIsRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        let cp = try await GatehouseProcess.controlPlane(db: dir.file("cp.db"), token: Self.token)
        let url = "http://127.0.0.1:\(cp.ports.cluster)"
        var plane = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("dp"))
        try await cp.routeEverything(to: upstream)
        try await Self.waitForVersion(2, plane)
        #expect(await plane.terminate() == 0)
        cp.kill9()

        // Whoever can write the file replaces the document and fixes up the hash: the signature
        // covers the hash, and only the cluster token makes a signature.
        let cache = dir.file("dp/snapshot.json")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: cache)))
        let newline = try #require(bytes.firstIndex(of: 0x0A))
        var header = try JSONValue.parse(bytes[..<newline]).objectValue ?? [:]
        var document = try ConfigDocument.read(try JSONValue.parse(bytes[(newline + 1)...]))
        document.routes = []
        let forged = Snapshot(version: 2, document: document)
        header["hash"] = .string(forged.hash)
        try Data(JSONValue.object(header).canonicalBytes + [0x0A] + forged.canonicalJSON).write(to: URL(fileURLWithPath: cache))
        plane = try await GatehouseProcess.dataPlane(controlPlane: url, token: Self.token, cacheDir: dir.file("dp"))
        defer { plane.stop() }
        try await waitUntil("the refusal to be logged") { plane.output.contains("the cached snapshot is refused") }
        #expect(plane.output.contains("no valid signature"))
        #expect(try await Self.status(plane)["ready"] == false)
    }
}
