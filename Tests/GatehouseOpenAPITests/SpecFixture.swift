import Foundation
import GatehouseModel

@testable import GatehouseOpenAPI

/// A spec given inline, imported as the CLI imports it.
struct SpecFixture {
    var text: String
    var file = "spec.yaml"

    init(_ text: String, file: String = "spec.yaml") {
        self.text = text
        self.file = file
    }

    func run(_ options: OpenAPIImportOptions = .loopback, overlay: String? = nil) throws(OpenAPIImportFailure) -> OpenAPIImport.Output {
        try OpenAPIImport.run(
            [OpenAPIImport.Input(file: file, bytes: Array(text.utf8))],
            overlay: overlay.map { OpenAPIImport.Input(file: "overlay.yaml", bytes: Array($0.utf8)) }, options: options)
    }

    /// The problems of a refused import, as the CLI prints them (`spec.yaml#/…: message`).
    func refusal(_ options: OpenAPIImportOptions = .loopback, overlay: String? = nil) -> [String] {
        do {
            _ = try run(options, overlay: overlay)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    /// The imported document as the model reads it.
    func document(_ options: OpenAPIImportOptions = .loopback, overlay: String? = nil) throws -> ConfigDocument {
        try ConfigDocument.read(try run(options, overlay: overlay).document)
    }

    /// The shared test specs, with their licences (`Tests/Fixtures/openapi-specs`, copied from the
    /// founders' `shared/openapi-specs`; `GATEHOUSE_OPENAPI_SPECS` names another directory).
    static let sharedDirectory =
        ProcessInfo.processInfo.environment["GATEHOUSE_OPENAPI_SPECS"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/openapi-specs").path

    static func shared(_ name: String) throws -> OpenAPIImport.Input {
        let directory = sharedDirectory
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
        return OpenAPIImport.Input(file: name, bytes: Array(data))
    }
}

extension OpenAPIImportOptions {
    /// Every upstream on loopback, never a host a spec names.
    static var loopback: OpenAPIImportOptions {
        var options = OpenAPIImportOptions()
        options.server = "http://127.0.0.1:9999"
        return options
    }

    func with(_ change: (inout OpenAPIImportOptions) -> Void) -> OpenAPIImportOptions {
        var copy = self
        change(&copy)
        return copy
    }
}

extension ConfigDocument {
    func route(_ name: String) -> Route? { routes.first { $0.name == name } }
    func policy(_ name: String) -> Policy? { policies.first { $0.name == name } }
}
