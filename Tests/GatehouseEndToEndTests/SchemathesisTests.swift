import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// The admin API agrees with `Schema/admin-api.openapi.yaml`: schemathesis generates requests
/// from the document (valid and invalid ones, undeclared methods, stateful sequences) against a
/// live `gatehouse serve` holding one entity of each kind, and judges every answer with all its
/// checks. `schemathesis.toml` lists the few rules the document cannot express and why.
@Suite struct SchemathesisTests {
    /// `scripts/test` installs the pinned release into `.build/schemathesis` when it is missing.
    static let pinnedVersion = "4.32.5"

    static var schemathesis: String? {
        if let path = ProcessInfo.processInfo.environment["GATEHOUSE_SCHEMATHESIS"] { return path }
        let installed = ToolRun.repositoryRoot.appendingPathComponent(".build/schemathesis/bin/st").path
        if FileManager.default.isExecutableFile(atPath: installed) { return installed }
        return ToolRun.onPath("st")
    }

    /// In CI a missing schemathesis fails the test; on a developer's machine it is skipped.
    static var runs: Bool { schemathesis != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test(.enabled(if: runs, "schemathesis (st) is not installed; scripts/test installs it into .build/schemathesis"))
    func theAdminAPIAnswersAsItsOpenAPIDocumentSays() async throws {
        let st = try #require(Self.schemathesis, "schemathesis is required in CI: scripts/test installs it (pip install schemathesis==\(Self.pinnedVersion))")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: directory.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin

        let seed: [(String, JSONValue)] = [
            ("/upstreams", ["name": "api", "targets": [["target": "127.0.0.1:9000"]]]),
            ("/routes", ["name": "recipes", "paths": ["/recipes"], "upstream": "api"]),
            ("/consumers", ["name": "web-app"]),
            ("/consumers/web-app/credentials", ["type": "key-auth"]),
            ("/policies", ["name": "cors-web", "type": "cors", "route": "recipes", "config": ["allow_origins": ["https://www.example.com"]]]),
        ]
        for (path, body) in seed {
            let created = try await httpRequest(port: admin, .POST, path, json: body)
            try #require(created.status == 201, "seeding \(path): \(created.text)")
        }

        // A fixed seed and a bounded number of examples per operation: the same requests every
        // run (up to the ids the server assigns), in about a minute on two cores. `--checks all`
        // includes a response-time limit (10 s by default); it is set to the request timeout, so
        // no check judges timing (a debug build's PBKDF2 for a basic-auth credential took 12.7 s
        // once on a loaded machine).
        let run = try await ToolRun.run(
            st,
            [
                "--config-file", "schemathesis.toml", "run", "Schema/admin-api.openapi.yaml", "--url", "http://127.0.0.1:\(admin)",
                "--checks", "all", "--max-response-time", "60", "--seed", "1", "--max-examples", "12", "--generation-database", "none",
                "--workers", "1", "--request-timeout", "60", "--no-color",
            ],
            outputFile: directory.file("schemathesis.txt"))
        #expect(run.status == 0, "schemathesis found disagreements between the admin API and its OpenAPI document:\n\(run.output)")
        #expect(gatehouse.isRunning, "gatehouse exited during the run:\n\(gatehouse.output)")
    }
}
