import Foundation
import GatehouseModel
import Testing

@testable import GatehouseDeclarative

/// `${GATEHOUSE_…}` fills in one parsed value and nothing else.
@Suite struct VariableSubstitutionTests {
    /// The issue's value: in the text, it closed the list and added an upstream of its own.
    static let injection = "x\"]\n  - name: injected\n    targets: [{ target: \"6.6.6.6:80\" }]\n    tags: [\"y"

    static let upstream = """
        format_version: 1
        upstreams:
          - name: api
            targets: [{ target: "127.0.0.1:9000" }]
            tags: ["${GATEHOUSE_TAG}"]

        """

    @Test func aValueThatSpellsYAMLStaysOneString() throws {
        let (source, problems) = try DeclarativeFile(text: Self.upstream).load(environment: ["GATEHOUSE_TAG": Self.injection])
        #expect(problems == [])
        #expect(source.entries.map(\.name) == ["api"])
        #expect(source.entries.first?.value["tags"] == [.string(Self.injection)])
    }

    @Test func aJSONFileIsSubstitutedInItsStringsToo() throws {
        let text = #"{"format_version": 1, "upstreams": [{"name": "api", "tags": ["${GATEHOUSE_TAG}"], "targets": [{"target": "127.0.0.1:9000"}]}]}"#
        let injected = #"x"]}, {"name": "injected", "tags": ["y"#
        let (source, problems) = try DeclarativeFile(text: text, name: "gateway.json").load(environment: ["GATEHOUSE_TAG": injected])
        #expect(problems == [])
        #expect(source.entries.map(\.name) == ["api"])
        #expect(source.entries.first?.value["tags"] == [.string(injected)])
    }

    @Test func aValueStartingWithAnAnchorKeepsEveryCharacter() throws {
        let text = """
            format_version: 1
            consumers:
              - name: web
                credentials: [{ type: key-auth, key: "${GATEHOUSE_KEY}" }]
              - name: app
                credentials:
                  - type: key-auth
                    key: ${GATEHOUSE_PLAIN_KEY}

            """
        let environment = ["GATEHOUSE_KEY": "&a 0123456789abcdef", "GATEHOUSE_PLAIN_KEY": "*b fedcba9876543210"]
        let (source, problems) = try DeclarativeFile(text: text).load(environment: environment)
        #expect(problems == [])
        let keys = source.entries.map { $0.value["credentials"]?.arrayValue?.first?["key"] }
        #expect(keys == ["&a 0123456789abcdef", "*b fedcba9876543210"])
    }

    /// A plain scalar that is one variable reads as the scalar its value spells; anything else is
    /// a string, and no value becomes a list or a mapping. (Plain, in block style: in a flow
    /// mapping `{` and `}` end a plain scalar, so there a variable is quoted.)
    @Test func aWholePlainVariableIsReadByTheCoreSchemaButNeverAsStructure() throws {
        let environment = ["GATEHOUSE_WEIGHT": "100", "GATEHOUSE_LIST": "[1, 2]", "GATEHOUSE_TP": "tp"]
        let plain = """
            format_version: 1
            upstreams:
              - name: api
                targets:
                  - target: "127.0.0.1:9000"
                    weight: ${GATEHOUSE_WEIGHT}
                scheme: ht${GATEHOUSE_TP}

            """
        let (source, problems) = try DeclarativeFile(text: plain).load(environment: environment)
        #expect(problems == [])
        #expect(source.entries.first?.value["targets"]?.arrayValue?.first?["weight"] == 100)
        #expect(source.entries.first?.value["scheme"] == "http")

        // Quoted, the value is a string; a list's text is a string too. The schema says so.
        let other = """
            format_version: 1
            upstreams:
              - name: api
                targets: [{ target: "127.0.0.1:9000", weight: "${GATEHOUSE_WEIGHT}" }]
                pool:
                  max_idle: ${GATEHOUSE_LIST}

            """
        let refused = try DeclarativeFile(text: other).load(environment: environment).problems
        #expect(
            refused.map { "\($0.field ?? ""): \($0.message)" }.sorted() == [
                "pool.max_idle: expected integer, got string", "targets[0].weight: expected integer, got string",
            ])
    }

    @Test func anUnsetVariableIsNamedWithItsLineAndColumn() throws {
        let yaml = try DeclarativeFile(text: Self.upstream).load()
        #expect(
            yaml.problems == [
                DeclarativeSource.Problem(file: "gateway.yaml", line: 5, column: 12, message: "${GATEHOUSE_TAG} is not set in the environment")
            ])
        let json = try DeclarativeFile(text: "{\"format_version\": 1,\n  \"routes\": [{\"name\": \"${GATEHOUSE_R}\"}]}", name: "gateway.json").load()
        #expect(
            json.problems == [
                DeclarativeSource.Problem(file: "gateway.json", line: 2, column: 24, message: "${GATEHOUSE_R} is not set in the environment")
            ])
    }

    @Test func keysAndOtherVariablesAreLeftAsWritten() throws {
        let text = """
            format_version: 1
            routes:
              - name: r
                ${GATEHOUSE_FIELD}: x
                paths: ["/${HOME}"]
                upstream: u

            """
        let (_, problems) = try DeclarativeFile(text: text).load(environment: ["GATEHOUSE_FIELD": "upstream"])
        #expect(problems.map { "\($0.field ?? ""): \($0.message)" } == ["${GATEHOUSE_FIELD}: unknown field"])
        var substitution = VariableSubstitution(environment: ["HOME": "/root"])
        #expect(try substitution.apply("/${HOME}/${GATEHOUSE_lower}/${GATEHOUSE_") == nil)
    }
}
