/// The import refused its input: every error found (and the warnings), nothing written.
public struct OpenAPIImportFailure: Error, Sendable, CustomStringConvertible {
    public let problems: [ImportProblem]

    public init(_ problems: [ImportProblem]) {
        self.problems = problems
    }

    public var errors: [ImportProblem] { problems.filter { $0.severity == .error } }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
