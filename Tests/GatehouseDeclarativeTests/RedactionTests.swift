import Foundation
import GatehouseModel
import Testing

@testable import GatehouseDeclarative

/// Problems name the file, line, column, entity and key, never a secret, and quote other values
/// only cut short.
@Suite struct RedactionTests {
    static let secret = "s3cr3t-key-0123456789"
    static let environment = ["GATEHOUSE_WEB_KEY": secret]

    static func consumers(_ rest: String) -> String {
        """
        format_version: 1
        consumers:
          - name: web
            credentials: [{ type: key-auth, key: "${GATEHOUSE_WEB_KEY}" }]
        \(rest)
        """
    }

    @Test func aDuplicateKeyNamesTheKeyAndItsPlaceNotTheDocument() throws {
        let text = Self.consumers("  - name: app\n    name: again\n")
        let report = try DeclarativeFile(text: text).report(environment: Self.environment)
        #expect(report == "gateway.yaml:5:5: the key 'name' is given twice")
    }

    @Test func aSyntaxErrorNamesItsPlaceNotTheText() throws {
        let text = Self.consumers("  - name: [unclosed\n")
        let (_, problems) = try DeclarativeFile(text: text).load(environment: Self.environment)
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        #expect(problem.line != nil && problem.column != nil)
        #expect(problem.message.hasPrefix("not valid YAML: "))
        #expect(!problem.description.contains(Self.secret) && !problem.description.contains("format_version"))
    }

    @Test func aKeyInTheWrongFieldIsNotEchoed() throws {
        let text = Self.consumers("  - name: app\n    credentials: [{ type: key-auth, key_hash: \"clear-key-in-the-wrong-field\" }]\n")
        let report = try DeclarativeFile(text: text).report(environment: Self.environment)
        #expect(report == "gateway.yaml:5: consumer 'app': credentials[0].key_hash: '(hidden)' does not match ^[0-9a-fA-F]{64}$")
    }

    @Test func aValueFromTheEnvironmentIsShownAsItsVariable() throws {
        let text = """
            format_version: 1
            upstreams: [{ name: u }]
            routes:
              - { name: r, paths: ["${GATEHOUSE_PATH}"], upstream: u }

            """
        let report = try DeclarativeFile(text: text).report(environment: ["GATEHOUSE_PATH": "relative/private-path"])
        #expect(report == "gateway.yaml:4: route 'r': paths[0]: '${GATEHOUSE_PATH}' must start with / (or =/ for an exact path)")
    }

    @Test func aLongValueFromTheEnvironmentShowsNoneOfItsStart() throws {
        // Cut short before the redaction sees it, the value is not there whole to be replaced.
        let secret = "sk_live_" + String(repeating: "614371ea", count: 20) + " x"
        let text = "format_version: 1\nupstreams: [{ name: u, tags: [\"${GATEHOUSE_API_SECRET}\"] }]\n"
        let report = try DeclarativeFile(text: text).report(environment: ["GATEHOUSE_API_SECRET": secret])
        #expect(report.contains("${GATEHOUSE_API_SECRET}"), "\(report)")
        #expect(!report.contains("sk_live_614371ea") && !report.contains("614371ea614371ea"), "\(report)")
    }

    @Test func aLongValueIsCutShort() throws {
        let long = "relative-" + String(repeating: "x", count: 200)
        let text = "format_version: 1\nupstreams: [{ name: u }]\nroutes:\n  - { name: r, paths: [\"\(long)\"], upstream: u }\n"
        let report = try DeclarativeFile(text: text).report()
        #expect(report == "gateway.yaml:4: route 'r': paths[0]: '\(long.prefix(Redaction.maxEcho - 1))…' must start with / (or =/ for an exact path)")
    }

    @Test func anAdminAPIMessageIsRedactedWithTheFilesSecrets() throws {
        let (source, problems) = try DeclarativeFile(text: Self.consumers("")).load(environment: Self.environment)
        #expect(problems == [])
        let located = source.locate(code: "invalid", message: "consumer 'web': key '\(Self.secret)' is refused", field: nil)
        #expect(located.description.contains("consumer 'web'") && !located.description.contains(Self.secret))
        #expect(!source.redacted("the admin API answered 400: \(Self.secret)").contains(Self.secret))
    }
}
