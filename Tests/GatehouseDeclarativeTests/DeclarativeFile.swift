import Foundation
import GatehouseTestSupport

@testable import GatehouseDeclarative

/// One declarative file in a temporary directory, read as the CLI and `--config-dir` read it.
struct DeclarativeFile {
    let text: String
    var name = "gateway.yaml"

    func load(environment: [String: String] = [:]) throws -> (source: DeclarativeSource, problems: [DeclarativeSource.Problem]) {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try text.write(toFile: dir.file(name), atomically: true, encoding: .utf8)
        let (source, problems) = DeclarativeSource.load([dir.file(name)], environment: environment)
        return (source, problems.map(Self.named))
    }

    /// Every problem as the CLI prints it, whole-document checks included.
    func report(environment: [String: String] = [:]) throws -> String {
        let (source, problems) = try load(environment: environment)
        let checked = problems.isEmpty ? source.check().problems.map(Self.named) : []
        return (problems + checked).map(\.description).joined(separator: "\n")
    }

    /// Problems name the file by its path; tests compare the rest.
    private static func named(_ problem: DeclarativeSource.Problem) -> DeclarativeSource.Problem {
        var problem = problem
        problem.file = (problem.file as NSString).lastPathComponent
        return problem
    }
}
