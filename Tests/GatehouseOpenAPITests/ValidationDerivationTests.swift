import Foundation
import GatehouseModel
import Testing

@testable import GatehouseOpenAPI

/// `--validate` and `x-gatehouse.validate`: what each operation's request-validation policy
/// checks, derived from its parameters and JSON body.
@Suite struct ValidationDerivationTests {
    static let spec = SpecFixture(
        """
        openapi: 3.0.3
        info: { title: pets, version: "1" }
        paths:
          /pets/{pet-id}:
            parameters:
              - { name: pet-id, in: path, required: true, schema: { type: integer, minimum: 0, exclusiveMinimum: true } }
              - { name: X-Trace, in: header, schema: { type: string } }
            get:
              operationId: getPet
              parameters:
                - { name: X-Trace, in: header, required: true, schema: { type: string, pattern: "^[a-f0-9]+$" } }
                - { name: Accept, in: header, schema: { type: string } }
                - { name: fields, in: query, style: form, explode: false, schema: { type: array, items: { type: string } } }
            put:
              operationId: putPet
              x-gatehouse: { validate: false }
          /pets:
            post:
              operationId: createPet
              requestBody:
                required: true
                content:
                  application/json: { schema: { $ref: "#/components/schemas/Pet" } }
                  text/plain: { schema: { type: string } }
        components:
          schemas:
            Pet:
              type: object
              required: [id, name]
              additionalProperties: false
              properties:
                id: { type: integer, readOnly: true }
                name: { type: string, nullable: true, maxLength: 20 }
                parent: { $ref: "#/components/schemas/Pet" }
                kind: { anyOf: [{ type: string }, { type: integer }] }
        """)

    func config(_ policy: String, _ options: OpenAPIImportOptions) throws -> JSONValue? {
        try Self.spec.document(options).policies.first { $0.name == policy }?.config
    }

    @Test func validateDerivesParametersAsTheRouteNamesThem() throws {
        let options = OpenAPIImportOptions.loopback.with { $0.validate = true }
        let config = try #require(try config("pets.get-pet.validation", options))
        #expect(
            config["parameters"]
                == [
                    // The route calls it pet_id; the operation's own X-Trace replaces the path item's.
                    ["name": "pet_id", "in": "path", "required": true, "schema": ["type": ["integer"], "exclusiveMinimum": 0]],
                    ["name": "x-trace", "in": "header", "required": true, "schema": ["type": ["string"], "pattern": "^[a-f0-9]+$"]],
                    ["name": "fields", "in": "query", "required": false, "schema": [:]],
                ])
        #expect(config["body"] == JSONValue.null)
        // x-gatehouse.validate: false opts an operation out of --validate.
        #expect(try self.config("pets.put-pet.validation", options) == nil)
    }

    @Test func theBodySchemaIsCutToWhatTheGatewayChecks() throws {
        let output = try Self.spec.run(OpenAPIImportOptions.loopback.with { $0.validate = true })
        let config = try #require(try ConfigDocument.read(output.document).policies.first { $0.name == "pets.create-pet.validation" }?.config)
        #expect(
            config["body"]
                == [
                    "required": true, "max_bytes": 1_048_576, "other_media_types": true,
                    "schema": [
                        "type": ["object"], "required": ["name"], "additionalProperties": false,
                        "properties": ["id": [:], "name": ["type": ["null", "string"], "maxLength": 20], "parent": [:], "kind": [:]],
                    ],
                ])
        #expect(
            output.warnings.map { $0.description }.contains(
                "spec.yaml#/components/schemas/Pet/properties/kind/anyOf: request validation: anyOf is not checked; this part of the request is taken as it is"
            ))
        #expect(
            output.warnings.map { $0.description }.contains(
                "spec.yaml#/paths/~1pets~1{pet-id}/get/parameters/2: request validation: the list's serialization is not one the gateway reads; only whether it is there is checked"
            ))
    }

    @Test func withoutValidateNothingIsChecked() throws {
        #expect(try Self.spec.document().policies.allSatisfy { $0.type != .requestValidation })
        // The document level turns it on like the flag; an operation level false still wins.
        var text = Self.spec.text
        text = text.replacingOccurrences(
            of: "info: { title: pets, version: \"1\" }", with: "info: { title: pets, version: \"1\" }\nx-gatehouse: { validate: true }")
        let names = try SpecFixture(text).document().policies.filter { $0.type == .requestValidation }.map(\.name).sorted()
        #expect(names == ["pets.create-pet.validation", "pets.get-pet.validation"])
    }

    @Test func anyOfWithNullIsNullable() throws {
        let spec = SpecFixture(
            """
            openapi: 3.1.0
            info: { title: n, version: "1" }
            paths:
              /things:
                post:
                  operationId: addThing
                  requestBody:
                    content:
                      application/json:
                        schema:
                          type: object
                          properties:
                            size: { anyOf: [{ type: integer, maximum: 9 }, { type: "null" }], description: how big }
                            mode: { oneOf: [{ type: "null" }, { enum: [a, b] }] }
                            both: { anyOf: [{ type: integer }, { type: string }] }
            """)
        let output = try spec.run(OpenAPIImportOptions.loopback.with { $0.validate = true })
        let config = try #require(try ConfigDocument.read(output.document).policies.first?.config)
        #expect(
            config["body"]?["schema"]?["properties"]
                == [
                    "size": ["type": ["integer", "null"], "maximum": 9], "mode": ["enum": ["a", "b", .null]], "both": [:],
                ])
        // Only the real alternative is a warning.
        #expect(
            output.warnings.map { $0.description } == [
                "spec.yaml#/paths/~1things/post/requestBody/content/application~1json/schema/properties/both/anyOf: request validation: anyOf is not checked; this part of the request is taken as it is"
            ])
    }

    @Test func swagger2ParametersAndBodyAreRead() throws {
        let spec = SpecFixture(
            """
            swagger: "2.0"
            info: { title: s, version: "1" }
            host: 127.0.0.1:9
            consumes: [application/json]
            paths:
              /items:
                post:
                  operationId: addItem
                  parameters:
                    - { name: limit, in: query, type: integer, maximum: 10, exclusiveMaximum: true }
                    - { name: ids, in: query, type: array, items: { type: integer }, collectionFormat: multi }
                    - { name: body, in: body, required: true, schema: { type: object, required: [n], properties: { n: { type: number } } } }
            """)
        let config = try #require(try spec.document(OpenAPIImportOptions.loopback.with { $0.validate = true }).policies.first?.config)
        #expect(
            config == [
                "parameters": [
                    ["name": "limit", "in": "query", "required": false, "schema": ["type": ["integer"], "exclusiveMaximum": 10]],
                    ["name": "ids", "in": "query", "required": false, "schema": ["type": ["array"], "items": ["type": ["integer"]]]],
                ],
                "body": [
                    "required": true, "max_bytes": 1_048_576, "other_media_types": false,
                    "schema": ["type": ["object"], "required": ["n"], "properties": ["n": ["type": ["number"]]]],
                ],
            ])
    }
}
