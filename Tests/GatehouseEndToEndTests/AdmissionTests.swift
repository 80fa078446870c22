import Foundation
import GatehouseModel
import GatehouseStore
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// A version no data plane can serve is refused before it is committed; a database that ends
/// in one anyway (written by a release without the checks) serves its newest servable version.
@Suite(.serialized) struct AdmissionTests {
    static let badCA = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    static let poison: JSONValue = [
        "name": "poison", "scheme": "https", "targets": [["target": "127.0.0.1:1"]], "tls": ["ca_certificates": .string(badCA)],
    ]

    @Test func anUpstreamWhoseCertificatesCannotLoadIsRefusedAndLaterWritesStillServe() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start()
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin

        let refused = try await httpRequest(port: admin, .POST, "/upstreams", json: Self.poison)
        #expect(refused.status == 400)
        #expect(refused.json["error"]?["code"] == "invalid")
        #expect(refused.json["error"]?["field"] == "tls.ca_certificates", "\(refused.json)")
        #expect(refused.json["error"]?["message"]?.stringValue?.contains("poison") == true)
        // PUT /config goes through the same door.
        let document: JSONValue = ["format_version": 1, "upstreams": [Self.poison]]
        #expect(try await httpRequest(port: admin, .PUT, "/config", json: document).status == 400)
        // A dry run refuses what the write would, instead of approving it.
        let plan = try await httpRequest(port: admin, .PUT, "/config?dry_run=true", json: document)
        #expect(plan.status == 400)
        #expect(plan.json["error"]?["field"] == "tls.ca_certificates", "\(plan.json)")
        #expect(try await httpRequest(port: admin, .GET, "/versions").json["data"]?.arrayValue?.count == 0)

        #expect(
            try await httpRequest(port: admin, .POST, "/upstreams", json: ["name": "u", "targets": [["target": .string(upstream.target)]]]).status
                == 201)
        #expect(try await httpRequest(port: admin, .POST, "/routes", json: ["name": "r", "upstream": "u"]).status == 201)
        try await gatehouse.waitForConfigVersion(2)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/x").status == 200)
        let planes = try await httpRequest(port: admin, .GET, "/data-planes").json
        #expect(planes["data"]?.arrayValue?.first?["status"] == "in_sync")
        #expect(planes["data"]?.arrayValue?.first?["policy_types"]?.arrayValue?.contains("key-auth") == true, "\(planes)")
    }

    @Test func aDatabaseEndingInAnUnservableVersionServesTheNewestThatCan() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let db = dir.file("gatehouse.db")
        let upstream = try await TestUpstream.start()
        do {
            // Written without the admission checks, as an older release did.
            let store = try ConfigStore(path: db)
            try store.write { document in
                document.upstreams.append(
                    try Upstream.read(["name": "u", "targets": [["target": .string(upstream.target)]]], id: UUID().uuidString.lowercased()))
                document.routes.append(try Route.read(["name": "r", "upstream": "u"], id: UUID().uuidString.lowercased()))
            }
            try store.write { $0.upstreams.append(try Upstream.read(Self.poison, id: UUID().uuidString.lowercased())) }
        }
        let gatehouse = try await GatehouseProcess.serve(db: db)
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        try await gatehouse.waitForConfigVersion(1)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/x").status == 200)
        #expect(gatehouse.output.contains("the newest config version cannot be served"))
        let plane = try await httpRequest(port: admin, .GET, "/data-planes").json["data"]?.arrayValue?.first
        #expect(plane?["status"] == "rejected", "\(String(describing: plane))")
        #expect(plane?["config_version"] == 1)
        #expect(plane?["behind"] == 1)
        #expect(plane?["error"]?.stringValue?.contains("version 2") == true)

        // A write that keeps the unservable upstream is refused; the rollback the log names serves.
        #expect(try await httpRequest(port: admin, .POST, "/consumers", json: ["name": "c"]).status == 400)
        let rollback = try await httpRequest(port: admin, .POST, "/versions/1/rollback")
        #expect(rollback.status == 201)
        try await gatehouse.waitForConfigVersion(3)
        let after = try await httpRequest(port: admin, .GET, "/data-planes").json["data"]?.arrayValue?.first
        #expect(after?["status"] == "in_sync")
        #expect(after?["behind"] == 0)
    }
}
