import GatehouseModel
import Testing

/// Admission of `request-validation` configs: every mistake names its field.
@Suite struct RequestValidationConfigTests {
    func refusal(_ config: JSONValue) -> ConfigError? {
        do {
            _ = try Policy.read(["name": "v", "type": "request-validation", "config": config])
            return nil
        } catch {
            return error
        }
    }

    @Test func normalizesDefaults() throws {
        let policy = try Policy.read([
            "name": "v", "type": "request-validation",
            "config": ["parameters": [["name": "X-Id", "in": "header", "schema": ["type": "string"]], ["name": "id", "in": "path"]], "body": [:]],
        ])
        #expect(
            policy.config == [
                "parameters": [
                    ["name": "x-id", "in": "header", "required": false, "schema": ["type": ["string"]]],
                    ["name": "id", "in": "path", "required": true, "schema": [:]],
                ],
                "body": ["max_bytes": 1_048_576, "required": false, "other_media_types": false, "schema": [:]],
            ])
    }

    @Test func refusesWhatItCannotCheckNamingTheField() {
        let cases: [(JSONValue, String, String)] = [
            ([:], "config.parameters", "validates nothing: give parameters or a body"),
            (["parameters": [["name": "a", "in": "cookie"]]], "config.parameters[0].in", "must be path, query or header"),
            (["parameters": [["name": "a b", "in": "header"]]], "config.parameters[0].name", "'a b' is not a header parameter name"),
            (
                ["parameters": [["name": "A", "in": "header"], ["name": "a", "in": "header"]]], "config.parameters[1].name",
                "header parameter 'a' is listed twice"
            ),
            (
                ["parameters": [["name": "a", "in": "query", "schema": ["type": "object"]]]], "config.parameters[0].schema.type",
                "a parameter cannot be checked as an object"
            ),
            (
                ["body": ["schema": ["type": "text"]]], "config.body.schema.type",
                "'text' is not a type: use string, integer, number, boolean, array, object, null"
            ),
            (["body": ["schema": ["pattern": "(unclosed"]]], "config.body.schema.pattern", "'(unclosed' is not a regular expression"),
            (["body": ["schema": ["minLength": 3, "maxLength": 2]]], "config.body.schema.maxLength", "is less than minLength"),
            (
                ["body": ["schema": ["properties": ["a": ["oneOf": []]]]]], "config.body.schema.properties.a.oneOf",
                "is not a keyword this gateway checks: use \(ValueSchemaRules.keywords.joined(separator: ", "))"
            ),
            (["body": ["schema": ["items": ["minimum": "1"]]]], "config.body.schema.items.minimum", "expected a number, got string"),
            (["body": ["max_bytes": 0]], "config.body.max_bytes", "must be between 1 and 67108864, got 0"),
            (["body": ["size": 1]], "config.body.size", "unknown field"),
        ]
        for (config, field, message) in cases {
            let error = refusal(config)
            #expect(error?.field == field, "\(config)")
            #expect(error?.message == message)
        }
    }

    @Test func cannotBeScopedToAConsumer() {
        #expect(throws: ConfigError.self) {
            try Policy.read(["name": "v", "type": "request-validation", "consumer": "c", "config": ["body": [:]]])
        }
    }
}
