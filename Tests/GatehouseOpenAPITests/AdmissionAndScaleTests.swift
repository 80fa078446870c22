import Foundation
import GatehouseModel
import Testing

@testable import GatehouseOpenAPI

/// The model's admission rules applied before anything is written, the real specs, and
/// re-import as a minimal change.
@Suite struct AdmissionAndScaleTests {
    @Test func literalsBeatParametersAndDifferentParameterNamesAtOnePositionAreFine() throws {
        let spec = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: gh, version: "1" }
            paths:
              /repos/{owner}/{repo}/commits/{commit_sha}: { get: { operationId: getCommit } }
              /repos/{owner}/{repo}/commits/{ref}/status: { get: { operationId: getStatus } }
              /repos/{owner}/{repo}/commits/latest: { get: { operationId: getLatest } }
            """)
        #expect(try spec.document().routes.count == 3)
    }

    @Test func operationsMatchingTheSameRequestsAreOneProblemNamingBothPointers() {
        let spec = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: t, version: "1" }
            paths:
              /pets/{id}: { get: { operationId: byId } }
              /pets/{name}: { get: { operationId: byName }, put: { operationId: rename } }
            """)
        #expect(
            spec.refusal() == [
                "spec.yaml#/paths/~1pets~1{name}/get: matches the same requests as spec.yaml#/paths/~1pets~1{id}/get (GET /pets/{}, parameter names aside): routes 't.by-id' and 't.by-name' would conflict"
            ])
    }

    static let sharedSpecs: [(file: String, routes: Int)] = [
        ("swagger2.0-petstore-v2.yaml", 20), ("oas3.0-swagger-petstore.yaml", 19), ("oas3.0-github-ghes-3.0.yaml", 664),
        ("oas3.1-redocly-museum.yaml", 8), ("oas3.1-openai.yaml", 281), ("oas3.2-tags-example.yaml", 4),
    ]

    @Test(arguments: sharedSpecs) func everySharedSpecImportsAndPassesAdmission(file: String, routes: Int) throws {
        let input = try SpecFixture.shared(file)
        let output = try OpenAPIImport.run([input], options: .loopback)
        let document = try ConfigDocument.read(output.document)
        #expect(document.routes.count == routes)
        #expect(output.routeCount == routes)
        // --server put every upstream on loopback, whatever servers the spec names.
        #expect(document.upstreams.allSatisfy { $0.targets.map(\.target) == ["127.0.0.1:9999"] })
        let tags = Set(document.routes.flatMap(\.header.tags) + document.policies.flatMap(\.header.tags) + document.upstreams.flatMap(\.header.tags))
        #expect(tags.count == 1 && tags.first?.hasPrefix("openapi:") == true)
        #expect(try OpenAPIImport.run([input], options: .loopback).text(.yaml) == output.text(.yaml))
    }

    @Test func ghesGetsAnUpstreamForItsUploadsServerFromAServerVariable() throws {
        let input = try SpecFixture.shared("oas3.0-github-ghes-3.0.yaml")
        var options = OpenAPIImportOptions()
        options.serverVariables = ["protocol": "http", "hostname": "127.0.0.1:9001", "origin": "http://127.0.0.2:9002"]
        let document = try ConfigDocument.read(try OpenAPIImport.run([input], options: options).document)
        #expect(document.upstreams.map { $0.targets.map(\.target) } == [["127.0.0.1:9001"], ["127.0.0.2:9002"]])
        #expect(document.route("github-v3-rest-api.repos.upload-release-asset")?.upstream == document.upstreams[1].name)
    }

    @Test func reImportAfterAddingRemovingAndChangingOneOperationChangesExactlyThose() throws {
        let before = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: inv, version: "1" }
            paths:
              /a: { get: { operationId: a, x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 5, window: 1m } } } } } }
              /b: { get: { operationId: b, x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 5, window: 1m } } } } } }
              /c: { get: { operationId: c } }
            """)
        let after = SpecFixture(
            """
            openapi: 3.0.3
            info: { title: inv, version: "2" }
            paths:
              /a: { get: { operationId: a, x-gatehouse: { policies: { limit: { type: rate-limit, config: { limit: 9, window: 1m } } } } } }
              /c: { get: { operationId: c } }
              /d: { get: { operationId: d } }
            """)
        let diff = ConfigDiff(from: try before.document(), to: try after.document())
        #expect(
            diff.changes.map { "\($0.action) \($0.kind.singular) \($0.name) \($0.fields)" } == [
                "delete route inv.b []", "create route inv.d []", "update policy inv.a.limit [\"config\"]", "delete policy inv.b.limit []",
            ])
    }
}
