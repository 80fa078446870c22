import ArgumentParser
import Foundation
import GatehouseDeclarative
import GatehouseModel
import GatehouseOpenAPI

/// `gatehouse import …`: declarative files made from other descriptions of an API.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a declarative file from another description of an API.",
        subcommands: [ImportOpenAPI.self]
    )
}

/// `gatehouse import openapi SPEC…`: a thin shell around `OpenAPIImport`, which does the work.
struct ImportOpenAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "A declarative file from OpenAPI 3.0–3.2 or Swagger 2.0 specs: a route per operation, with its policies.",
        discussion: """
            Every entity is tagged openapi:<name>; apply the file with `gatehouse sync --select-tag openapi:<name>` so \
            it replaces exactly this spec's entities. See docs/openapi.md.

            Exit status: 0 written (or --check: up to date), 1 error (nothing written), 2 --check: the file is stale.
            """
    )

    @Argument(help: "OpenAPI (3.0, 3.1, 3.2) or Swagger 2.0 documents, YAML or JSON.")
    var specs: [String]

    @Option(help: "The import's name: entity names start with it and its tag is openapi:<name> (default: x-gatehouse.name, else info.title).")
    var name: String?

    @Option(help: "Send every operation to this upstream, which the config already has.")
    var upstream: String?

    @Option(help: "Use this server URL instead of every server the spec lists.")
    var server: String?

    @Option(name: .customLong("server-var"), help: "A value for a server URL variable, as k=v (repeatable).")
    var serverVariables: [String] = []

    @Option(help: "keep (server path + operation path, forwarded as is), strip (the operation's path alone), or prefix=/x.")
    var basePath = "keep"

    @Option(help: "An overlay: x-gatehouse for operations selected by operationId, tag, or method and path.")
    var overlay: String?

    @Flag(help: "Make every warning an error: a security requirement that cannot be enforced, a path matched more broadly than the spec says.")
    var strict = false

    @Flag(
        name: .customLong("validate"),
        help:
            "Check every operation's parameters and JSON body at the gateway (a request-validation policy each; x-gatehouse.validate: false opts out)."
    )
    var validateRequests = false

    @Option(name: .shortAndLong, help: "Write the file here (.json: JSON, else YAML) instead of standard output.")
    var output: String?

    @Option(help: "Compare with this committed file instead of writing: exit 2 when it differs, listing how.")
    var check: String?

    func validate() throws {
        guard OpenAPIImportOptions.BasePath(argument: basePath) != nil else { throw ValidationError("--base-path must be keep, strip or prefix=/x") }
        guard upstream == nil || server == nil else { throw ValidationError("--upstream and --server both say where operations go: give one") }
        guard output == nil || check == nil else { throw ValidationError("--check compares, -o writes: give one") }
        for variable in serverVariables where !variable.contains("=") { throw ValidationError("--server-var takes k=v, got '\(variable)'") }
    }

    func run() async throws {
        var options = OpenAPIImportOptions()
        options.name = name
        options.upstream = upstream
        options.server = server
        options.basePath = OpenAPIImportOptions.BasePath(argument: basePath) ?? .keep
        options.strict = strict
        options.validate = validateRequests
        for variable in serverVariables {
            let parts = variable.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            options.serverVariables[String(parts[0])] = String(parts[1])
        }
        let inputs = try specs.map(Self.read)
        let overlayInput = try overlay.map(Self.read)
        let output: OpenAPIImport.Output
        do {
            output = try OpenAPIImport.run(inputs, overlay: overlayInput, options: options)
        } catch {
            for problem in error.problems {
                FileHandle.standardError.write(Data("\(problem.severity.rawValue): \(problem)\n".utf8))
            }
            FileHandle.standardError.write(Data("nothing written: \(error.errors.count) error\(error.errors.count == 1 ? "" : "s")\n".utf8))
            throw ExitCode(1)
        }
        for warning in output.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        if !output.warnings.isEmpty {
            let count = output.warnings.count
            FileHandle.standardError.write(
                Data(
                    "\(count) warning\(count == 1 ? "" : "s"): what they name is not enforced exactly as the spec says; --strict makes them errors\n"
                        .utf8))
        }
        let format: OpenAPIImport.Format = (check ?? self.output)?.hasSuffix(".json") == true ? .json : .yaml
        let text = try output.text(format)
        if let check {
            try Self.compare(text, document: output.document, with: check)
            return
        }
        if let path = self.output {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let tags = output.tags.map { "--select-tag \($0)" }.joined(separator: ", ")
            FileHandle.standardError.write(Data("wrote \(path): \(output.routeCount) routes; apply it with `gatehouse sync \(tags) \(path)`\n".utf8))
        } else {
            print(text, terminator: "")
        }
    }

    private static func read(_ path: String) throws -> OpenAPIImport.Input {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("error: \(path): cannot be read\n".utf8))
            throw ExitCode(1)
        }
        return OpenAPIImport.Input(file: path, bytes: Array(data))
    }

    /// `--check`: the committed file against what the spec produces now. Equal bytes: 0. Else
    /// 2, with the entities that would change (or, when only the text differs, saying so).
    private static func compare(_ text: String, document: JSONValue, with path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("error: \(path): cannot be read\n".utf8))
            throw ExitCode(1)
        }
        if Array(data) == Array(text.utf8) {
            print("\(path) is up to date")
            return
        }
        var changes: [String] = []
        do {
            let committed = try ConfigDocument.read(try Self.value(of: data, file: path))
            let generated = try ConfigDocument.read(document)
            changes = ConfigDiff(from: committed, to: generated).changes.map { change in
                switch change.action {
                case .create: "+ create \(change.kind.singular) '\(change.name)'"
                case .delete: "- delete \(change.kind.singular) '\(change.name)'"
                case .update: "~ update \(change.kind.singular) '\(change.name)': \(change.fields.joined(separator: ", "))"
                }
            }
        } catch {
            changes = ["(the committed file is not a valid declarative file: \(error))"]
        }
        print("\(path) is stale: importing the spec now gives another file. Run the same import with -o \(path) and commit it.")
        print(changes.isEmpty ? "(the entities are the same; only the file's text differs)" : changes.joined(separator: "\n"))
        throw ExitCode(2)
    }

    private static func value(of data: Data, file: String) throws -> JSONValue {
        if data.first == UInt8(ascii: "{") { return try JSONValue.parse(Array(data)) }
        return try YAMLDocument.value(of: String(decoding: data, as: UTF8.self), file: file)
    }
}
