import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOHTTP1
import Testing

/// `gatehouse validate`, `diff`, `sync` and `dump`, run as a user would, against a real `serve`.
@Suite struct DeclarativeCLITests {
    static func write(_ text: String, _ name: String, in dir: TemporaryDirectory) throws {
        try FileManager.default.createDirectory(
            atPath: (dir.file(name) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: dir.file(name), atomically: true, encoding: .utf8)
    }

    static func cli(_ arguments: [String], admin: Int? = nil, environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        var environment = environment
        if let admin { environment["GATEHOUSE_ADMIN_URL"] = "http://127.0.0.1:\(admin)" }
        return try await GatehouseProcess.run(arguments, environment: environment)
    }

    static func version(_ gatehouse: GatehouseProcess) async throws -> Int {
        try await httpRequest(port: gatehouse.ports.admin, .GET, "/").json["config_version"]?.intValue ?? -1
    }

    static let base = """
        format_version: 1
        upstreams:
          - name: main-api
            targets: [{ target: "127.0.0.1:9000" }]
        routes:
          - name: recipes
            paths: ["/api/recipes"]
            methods: [GET, POST]
            strip_path: true
            upstream: main-api

        """

    @Test func validateReportsEveryProblemWithItsFileEntityAndField() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.write(Self.base, "conf/a-base.yaml", in: dir)
        try Self.write(
            """
            format_version: 1
            upstreams:
              - name: broken
                retries: "three"
            policies:
              - { name: cors-web, type: cors, enabled: false, config: { allow_origins: ["*"], allow_credentials: true } }
            routes:
              - name: recipes
                upstream: main-api

            """, "conf/b-more.yaml", in: dir)
        let (status, output) = try await Self.cli(["validate", dir.file("conf")])
        #expect(status == 1)
        #expect(output.contains("b-more.yaml:3: upstream 'broken': retries:"))
        #expect(output.contains("b-more.yaml:6: policy 'cors-web': config.allow_credentials"))
        #expect(output.contains("route 'recipes': is also defined in \(dir.file("conf/a-base.yaml")):6"))

        // Whole-document problems: a dangling reference, then a conflict.
        try Self.write(Self.base + "  - { name: menus, paths: [/menus], upstream: nope }\n", "dangling.yaml", in: dir)
        let dangling = try await Self.cli(["validate", dir.file("dangling.yaml")])
        #expect(dangling.status == 1)
        #expect(dangling.output.contains("dangling.yaml:11: route 'menus': upstream: no upstream named 'nope'"))
        try Self.write(Self.base + "  - { name: twin, paths: [/api/recipes], methods: [GET], upstream: main-api }\n", "conflict.yaml", in: dir)
        let conflict = try await Self.cli(["validate", dir.file("conflict.yaml")])
        #expect(conflict.status == 1)
        #expect(conflict.output.contains("'recipes'") && conflict.output.contains("'twin'") && conflict.output.contains("match the same requests"))

        // The environment: only GATEHOUSE_ variables, and an unset one is an error.
        try Self.write(
            #"{"format_version": 1, "consumers": [{"name": "web", "credentials": [{"type": "key-auth", "key": "${GATEHOUSE_TEST_KEY}"}]}], "routes": [{"name": "r", "paths": ["/${HOME}"], "upstream": "u"}], "upstreams": [{"name": "u"}]}"#,
            "env.json", in: dir)
        let unset = try await Self.cli(["validate", dir.file("env.json")])
        #expect(unset.status == 1)
        #expect(unset.output.contains("env.json:1:98: ${GATEHOUSE_TEST_KEY} is not set"))
        let set = try await Self.cli(["validate", dir.file("env.json")], environment: ["GATEHOUSE_TEST_KEY": "0123456789abcdef0123"])
        // ${HOME} is left as it is, and is then not a valid path.
        #expect(set.status == 1)
        #expect(set.output.contains("route 'r': paths[0]") && !set.output.contains(NSHomeDirectory() + "'"))

        try Self.write("format_version: 1\nroutes:\n  - name: [unclosed\n", "syntax.yaml", in: dir)
        let syntax = try await Self.cli(["validate", dir.file("syntax.yaml")])
        #expect(syntax.status == 1)
        #expect(syntax.output.contains("syntax.yaml:") && syntax.output.contains("not valid YAML"))

        let good = try await Self.cli(["validate", dir.file("conf/a-base.yaml")])
        #expect(good.status == 0)
        #expect(good.output.contains("valid: 1 upstream, 1 route"))
    }

    @Test func syncIsOneVersionOrNothingAndDiffSaysWhichWithItsExitStatus() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        var routes = (0..<49).map { "  - { name: r\($0), paths: [/r\($0)], upstream: main-api }" }
        routes.append("  - { name: bad, paths: [relative], upstream: main-api }")
        try Self.write(
            "format_version: 1\nupstreams:\n  - { name: main-api, targets: [{ target: \"127.0.0.1:9000\" }] }\nroutes:\n"
                + routes.joined(separator: "\n") + "\n",
            "fifty.yaml", in: dir)
        let refused = try await Self.cli(["sync", dir.file("fifty.yaml")], admin: admin)
        #expect(refused.status == 1)
        #expect(refused.output.contains("route 'bad': paths[0]"))
        #expect(try await Self.version(gatehouse) == 0)

        try Self.write(Self.base, "base.yaml", in: dir)
        #expect(try await Self.cli(["diff", dir.file("base.yaml")], admin: admin).status == 2)
        let plan = try await Self.cli(["diff", "--json", dir.file("base.yaml")], admin: admin)
        #expect(plan.status == 2)
        #expect(plan.output.contains("\"action\": \"create\""))
        let dry = try await Self.cli(["sync", "--dry-run", dir.file("base.yaml")], admin: admin)
        #expect(dry.status == 0 && dry.output.contains("+ create route 'recipes'"))
        #expect(try await Self.version(gatehouse) == 0)

        let first = try await Self.cli(["sync", dir.file("base.yaml")], admin: admin)
        #expect(first.status == 0 && first.output.contains("applied as version 1"))
        let second = try await Self.cli(["sync", dir.file("base.yaml")], admin: admin)
        #expect(second.status == 0 && second.output.contains("nothing to change"))
        #expect(try await Self.version(gatehouse) == 1)
        #expect(try await Self.cli(["diff", dir.file("base.yaml")], admin: admin).status == 0)
        #expect(try await Self.cli(["diff", dir.file("base.yaml")], admin: 1).status == 1)

        // An edit is an update naming its fields.
        try Self.write(Self.base.replacingOccurrences(of: "strip_path: true", with: "strip_path: false"), "base.yaml", in: dir)
        let edited = try await Self.cli(["diff", dir.file("base.yaml")], admin: admin)
        #expect(edited.status == 2 && edited.output.contains("~ update route 'recipes': strip_path"))
    }

    @Test func dumpThenSyncChangesNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        try Self.write(
            Self.base
                + """
                consumers:
                  - name: web-app
                    credentials: [{ type: key-auth, key: "${GATEHOUSE_WEB_KEY}" }]
                policies:
                  - { name: limit, type: rate-limit, enabled: false, route: recipes, config: { limit: 10, window: 1m } }

                """, "full.yaml", in: dir)
        let key = "0123456789abcdefghij"
        #expect(try await Self.cli(["sync", dir.file("full.yaml")], admin: admin, environment: ["GATEHOUSE_WEB_KEY": key]).status == 0)
        let dumped = try await Self.cli(["dump", "--output", dir.file("dump.yaml")], admin: admin)
        #expect(dumped.status == 0)
        let text = try String(contentsOfFile: dir.file("dump.yaml"), encoding: .utf8)
        #expect(!text.contains(key))
        #expect(text.contains("key_hash"))
        let again = try await Self.cli(["sync", dir.file("dump.yaml")], admin: admin)
        #expect(again.status == 0 && again.output.contains("nothing to change"))
        let json = try await Self.cli(["dump", "--format", "json"], admin: admin)
        #expect(try JSONValue.parse(Array(json.output.utf8))["routes"]?.arrayValue?.count == 1)
        #expect(try await Self.version(gatehouse) == 1)
    }

    @Test func selectTagManagesOnlyItsOwnEntities() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        // Shared and legacy entities, created by hand, without the team's tag.
        #expect(
            try await httpRequest(port: admin, .POST, "/upstreams", json: ["name": "shared", "targets": [["target": "127.0.0.1:9000"]]]).status == 201
        )
        #expect(
            try await httpRequest(port: admin, .POST, "/routes", json: ["name": "legacy", "paths": ["/legacy"], "upstream": "shared"]).status == 201)
        func legacy() async throws -> JSONValue { try await httpRequest(port: admin, .GET, "/routes/legacy").json }
        let before = try await legacy()

        try Self.write(
            "format_version: 1\nroutes:\n  - { name: team-a-one, paths: [/a/one], upstream: shared }\n  - { name: team-a-two, paths: [/a/two], upstream: shared }\n",
            "team-a.yaml", in: dir)
        let created = try await Self.cli(["sync", "--select-tag", "team-a", dir.file("team-a.yaml")], admin: admin)
        #expect(created.status == 0)
        #expect(created.output.contains("+ create route 'team-a-one'") && !created.output.contains("legacy") && !created.output.contains("shared"))
        #expect(try await httpRequest(port: admin, .GET, "/routes/team-a-one").json["tags"] == ["team-a"])

        // Update one, delete the other: the legacy route and the shared upstream stay as they were.
        try Self.write("format_version: 1\nroutes:\n  - { name: team-a-one, paths: [/a/uno], upstream: shared }\n", "team-a.yaml", in: dir)
        let changed = try await Self.cli(["sync", "--select-tag", "team-a", dir.file("team-a.yaml")], admin: admin)
        #expect(changed.status == 0)
        #expect(changed.output.contains("~ update route 'team-a-one': paths") && changed.output.contains("- delete route 'team-a-two'"))
        #expect(try await legacy() == before)
        #expect(try await httpRequest(port: admin, .GET, "/upstreams/shared").status == 200)

        let dump = try await Self.cli(["dump", "--select-tag", "team-a", "--format", "json"], admin: admin)
        let document = try JSONValue.parse(Array(dump.output.utf8))
        #expect(document["routes"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["team-a-one"])
        #expect(document["upstreams"]?.arrayValue?.isEmpty == true)

        // Taking over an entity of another owner is refused, and changes nothing.
        try Self.write("format_version: 1\nroutes:\n  - { name: legacy, paths: [/mine], upstream: shared }\n", "grab.yaml", in: dir)
        let grab = try await Self.cli(["sync", "--select-tag", "team-a", dir.file("grab.yaml")], admin: admin)
        #expect(grab.status == 1)
        #expect(grab.output.contains("cannot take it over"))
        #expect(try await legacy() == before)
    }

    @Test func aConfigDirectoryOwnsTheConfigAppliesValidEditsAndRefusesInvalidOnes() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        func files(_ routes: String) -> String {
            "format_version: 1\nupstreams:\n  - { name: origin, targets: [{ target: \"\(upstream.target)\" }] }\nroutes:\n\(routes)"
        }
        try Self.write(files("  - { name: one, paths: [/one], upstream: origin }\n"), "conf/gateway.yaml", in: dir)
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--config-dir", dir.file("conf")])
        defer { gatehouse.stop() }
        try await gatehouse.waitForConfigVersion(1)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/one").status == 200)

        // The directory is the source of truth: the admin API refuses writes.
        let refused = try await httpRequest(port: gatehouse.ports.admin, .POST, "/routes", json: ["name": "sneaky", "upstream": "origin"])
        #expect(refused.status == 409)
        #expect(refused.json["error"]?["message"]?.stringValue?.contains("--config-dir") == true)

        // A valid edit, as a git-sync would make it, becomes one version.
        try Self.write(
            files("  - { name: one, paths: [/one], upstream: origin }\n  - { name: two, paths: [/two], upstream: origin }\n"), "conf/gateway.yaml",
            in: dir)
        try await gatehouse.waitForConfigVersion(2)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/two").status == 200)

        // An invalid one is refused and logged; version 2 keeps serving.
        try Self.write(files("  - { name: two, paths: [/two], upstream: missing }\n"), "conf/gateway.yaml", in: dir)
        try await waitUntil("the refusal in the log") { gatehouse.output.contains("config directory refused") }
        #expect(gatehouse.output.contains("no upstream named 'missing'"))
        #expect(try await Self.version(gatehouse) == 2)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/one").status == 200)
    }

    /// `levels` lists, each of ten aliases of the one before: 10^levels strings expanded.
    static func laughNodes(levels: Int) -> [String] {
        [#"&l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]"#]
            + (1..<levels).map { "&l\($0) [\(Array(repeating: "*l\($0 - 1)", count: 10).joined(separator: ", "))]" }
    }

    /// The laughs as ten lines of a file, one key each.
    static func laughs(levels: Int) -> String {
        "format_version: 1\n" + laughNodes(levels: levels).enumerated().map { "x\($0): \($1)\n" }.joined()
    }

    /// `gatehouse` with its address space limited (`ulimit -v`), so a regression fails the test
    /// instead of taking the machine's memory.
    static func cliWithin(kibibytes: Int, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v \(kibibytes) && exec \"$0\" \"$@\"", GatehouseProcess.binary] + arguments
        return try await process.output()
    }

    @Test func validateRefusesAliasBombsBeforeExpandingThem() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The issue's ten lines (several GB once expanded), and the levels hidden in a mapping key.
        try Self.write(Self.laughs(levels: 9), "bombs/laughs.yaml", in: dir)
        try Self.write("format_version: 1\n? [\(Self.laughNodes(levels: 8).joined(separator: ", "))]\n: 1\n", "bombs/key.yaml", in: dir)
        let (status, output) = try await Self.cliWithin(kibibytes: 1_048_576, ["validate", dir.file("bombs")])
        #expect(status == 1, "\(output)")
        #expect(output.contains("laughs.yaml:2:5: YAML anchors (&name) are not supported"))
        #expect(output.contains("key.yaml:2:4: YAML anchors (&name) are not supported"))
    }

    /// The issue's value: pasted into the text, it closed the list and added an upstream.
    @Test func aVariableFillsInOneValueAndNeverAddsAnEntity() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let admin = gatehouse.ports.admin
        try Self.write(
            "format_version: 1\nupstreams:\n  - name: api\n    targets: [{ target: \"127.0.0.1:9000\" }]\n    tags: [\"${GATEHOUSE_TAG}\"]\n",
            "tagged.yaml", in: dir)
        let injection = "x\"]\n  - name: injected\n    targets: [{ target: \"6.6.6.6:80\" }]\n    tags: [\"y"
        let refused = try await Self.cli(["diff", dir.file("tagged.yaml")], admin: admin, environment: ["GATEHOUSE_TAG": injection])
        // One tag, and not a valid one; shown as its variable.
        #expect(refused.status == 1)
        #expect(refused.output.contains("upstream 'api': tags[0]: '${GATEHOUSE_TAG}' is not a valid tag"), "\(refused.output)")
        #expect(!refused.output.contains("injected"))

        // Quotes and brackets are part of the value, as they came.
        let tricky = #"x"]}&a*b"#
        let synced = try await Self.cli(["sync", dir.file("tagged.yaml")], admin: admin, environment: ["GATEHOUSE_TAG": tricky])
        #expect(synced.status == 0, "\(synced.output)")
        #expect(synced.output.contains("+ create upstream 'api'") && !synced.output.contains("injected"))
        #expect(try await httpRequest(port: admin, .GET, "/upstreams/api").json["tags"] == [.string(tricky)])
        #expect(try await httpRequest(port: admin, .GET, "/upstreams").json["data"]?.arrayValue?.count == 1)
    }

    @Test func aSyncWhoseAnswerIsLostSaysTheOutcomeIsUnknownAndHowToCheck() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"))
        defer { gatehouse.stop() }
        try Self.write(Self.base, "base.yaml", in: dir)
        // The plan goes through; the server commits the change, and its answer never arrives.
        let relay = try await AnswerDroppingRelay.start(to: gatehouse.ports.admin, droppingAnswersTo: "dry_run=false")
        let lost = try await Self.cli(["sync", dir.file("base.yaml")], admin: relay.port)
        #expect(lost.status == 3, "\(lost.output)")
        #expect(lost.output.contains("the change was sent to the admin API at http://127.0.0.1:\(relay.port), but no answer came"))
        #expect(lost.output.contains("may or may not have been applied") && lost.output.contains("`gatehouse diff \(dir.file("base.yaml"))`"))
        #expect(!lost.output.contains("cannot reach"))
        // Sent once, not again on a new connection.
        #expect(relay.droppedAnswers == 1)
        #expect(try await Self.version(gatehouse) == 1)
        #expect(try await Self.cli(["diff", dir.file("base.yaml")], admin: gatehouse.ports.admin).status == 0)

        // Nothing listens: nothing was sent, and the CLI says it could not reach it.
        let unreachable = try await Self.cli(["sync", dir.file("base.yaml")], admin: 1)
        #expect(unreachable.status == 1)
        #expect(unreachable.output.contains("cannot reach the admin API at http://127.0.0.1:1"))
    }

    @Test func aConfigDirectoryRefusesAnAliasBombWithoutGrowing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let upstream = try await TestUpstream.start(name: "origin")
        try Self.write(
            "format_version: 1\nupstreams:\n  - { name: origin, targets: [{ target: \"\(upstream.target)\" }] }\nroutes:\n  - { name: one, paths: [/one], upstream: origin }\n",
            "conf/gateway.yaml", in: dir)
        let gatehouse = try await GatehouseProcess.serve(db: dir.file("gatehouse.db"), extraArguments: ["--config-dir", dir.file("conf")])
        defer { gatehouse.stop() }
        try await gatehouse.waitForConfigVersion(1)
        let before = gatehouse.residentKiB

        // The issue's seven levels took this server from 47 to 309 MB.
        try Self.write(Self.laughs(levels: 7), "conf/zz-bomb.yaml", in: dir)
        try await waitUntil("the refusal in the log") { gatehouse.output.contains("config directory refused") }
        #expect(gatehouse.output.contains("zz-bomb.yaml:2:5: YAML anchors (&name) are not supported"))
        #expect(gatehouse.residentKiB - before < 64 * 1024, "grew from \(before) to \(gatehouse.residentKiB) KiB")
        #expect(try await Self.version(gatehouse) == 1)
        #expect(try await httpRequest(port: gatehouse.ports.proxy, .GET, "/one").status == 200)
    }

    @Test func theDeployExampleRepositoryIsValid() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = root.appendingPathComponent("deploy/config-repo/gateway").path
        let (status, output) = try await Self.cli(["validate", example], environment: ["GATEHOUSE_WEB_APP_KEY": "0123456789abcdef0123"])
        #expect(status == 0, "\(output)")
    }

    @Test func explainChecksACORSRuleAgainstFilesOffline() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = root.appendingPathComponent("deploy/config-repo/gateway").path
        let environment = ["GATEHOUSE_WEB_APP_KEY": "0123456789abcdef0123"]
        let (status, allowed) = try await Self.cli(
            [
                "explain", "POST", "https://api.example.com/api/recipes", "-f", example, "--origin", "https://www.example.com", "-H",
                "Content-Type: application/json",
            ],
            environment: environment)
        #expect(status == 0, "\(allowed)")
        #expect(allowed.contains("route: recipes → upstream 'recipes-service'"))
        #expect(allowed.contains("a browser ALLOWS this request"))
        #expect(allowed.contains("authentication: 401"))
        // PUT is not allowed on the recipes route's CORS rule, and another origin is not either.
        let (_, blocked) = try await Self.cli(
            ["explain", "PUT", "https://api.example.com/api/recipes/7", "-f", example, "--origin", "https://evil.example.net", "--json"],
            environment: environment)
        let json = try JSONValue.parse(Array(blocked.utf8))
        #expect(json["route"]?["name"] == "recipe")
        #expect(json["cors"]?["browser"] == "blocked")
        #expect(json["cors"]?["origin_allowed"] == false)
    }
}
