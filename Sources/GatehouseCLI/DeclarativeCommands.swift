import ArgumentParser
import Foundation
import GatehouseDeclarative
import GatehouseModel

/// Where the declarative commands find the control plane.
struct AdminTarget: ParsableArguments {
    @Option(help: "The admin API's URL (GATEHOUSE_ADMIN_URL); GATEHOUSE_ADMIN_TOKEN is sent as a bearer token when set.")
    var admin = EnvironmentDefault.value("GATEHOUSE_ADMIN_URL", "http://127.0.0.1:8001")

    var client: AdminClient { AdminClient(base: admin, token: ProcessInfo.processInfo.environment["GATEHOUSE_ADMIN_TOKEN"]) }
}

/// The files `diff` and `sync` manage, and the tag that scopes them.
struct ManagedFiles: ParsableArguments {
    @Argument(help: "Files or directories of .yaml, .yml and .json files, merged.")
    var paths: [String]

    @Option(help: "Manage only entities carrying this tag; the files' entities get it.")
    var selectTag: String?

    /// Checked whole unless scoped to a tag (the control plane checks the whole then).
    func load() throws -> DeclarativeSource {
        try DeclarativeInput.load(paths, wholeDocument: selectTag == nil)
    }

    /// The `diff` that tells whether these files are applied, for a message to paste in a shell.
    var diffCommand: String {
        let quoted = ((selectTag.map { ["--select-tag", $0] } ?? []) + paths).map { argument in
            argument.allSatisfy { $0.isLetter || $0.isNumber || "/._-=:@".contains($0) }
                ? argument : "'" + argument.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        }
        return (["gatehouse diff"] + quoted).joined(separator: " ")
    }
}

/// Reading the files: only `GATEHOUSE_…` variables are passed on for substitution. `validate`,
/// `diff`, `sync`, `explain` and `serve --config-dir` all read them through
/// `DeclarativeSource.load`, so each is refused the same way.
enum DeclarativeInput {
    /// `sync`'s status when the change was sent and no answer came: it may have been applied.
    static let outcomeUnknown: Int32 = 3

    /// The files, checked; every problem is printed and ends the command with status 1.
    static func load(_ paths: [String], wholeDocument: Bool) throws -> DeclarativeSource {
        try checked(paths, wholeDocument: wholeDocument).source
    }

    /// The files, checked, with the whole document they make (nil when not checked whole).
    static func checked(_ paths: [String], wholeDocument: Bool) throws -> (source: DeclarativeSource, document: ConfigDocument?) {
        let environment = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("GATEHOUSE_") }
        var (source, problems) = DeclarativeSource.load(paths, environment: environment)
        var document: ConfigDocument?
        if !source.entries.isEmpty {
            let check = source.check(wholeDocument: wholeDocument && problems.isEmpty)
            problems += check.problems
            document = check.document
        }
        guard problems.isEmpty else {
            report(problems)
            throw ExitCode(1)
        }
        return (source, document)
    }

    static func report(_ problems: [DeclarativeSource.Problem]) {
        for problem in problems { FileHandle.standardError.write(Data("error: \(problem)\n".utf8)) }
    }

    /// `PUT /config` of the files' document (scoped to `files.selectTag`), as a dry run or for
    /// real. A real one sent without an answer ends the command with `outcomeUnknown`.
    static func put(
        _ source: DeclarativeSource, files: ManagedFiles, dryRun: Bool, ifMatch: Int?, client: AdminClient
    ) async throws -> AdminClient.Answer {
        let tag = files.selectTag
        var path = "/config?dry_run=\(dryRun)"
        if let tag { path += "&select_tags=\(tag.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? tag)" }
        let answer: AdminClient.Answer
        do {
            answer = try await client.call("PUT", path, body: source.documentJSON(addingTag: tag), ifMatch: ifMatch)
        } catch {
            guard error.kind == .noAnswer, !dryRun else {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            FileHandle.standardError.write(
                Data(
                    """
                    error: the change was sent to the admin API at \(error.base), but no answer came (\(error.reason)).
                    It may or may not have been applied. To find out, run `\(files.diffCommand)` against the same admin API \
                    (exit status 0: it was applied; 2: it was not), or look at GET /versions.

                    """.utf8))
            throw ExitCode(outcomeUnknown)
        }
        guard answer.status == 200 else {
            if answer.status == 412 {
                FileHandle.standardError.write(
                    Data(
                        "error: another change was committed since this one was planned (\(source.redacted(AdminClient.describe(answer)))); run it again\n"
                            .utf8))
            } else if let error = answer.json["error"] {
                report([
                    source.locate(code: error["code"]?.stringValue, message: error["message"]?.stringValue ?? "", field: error["field"]?.stringValue)
                ])
            } else {
                FileHandle.standardError.write(Data("error: \(source.redacted(AdminClient.describe(answer)))\n".utf8))
            }
            throw ExitCode(1)
        }
        return answer
    }

    /// The plan, one line per entity: `+ create`, `~ update (fields)`, `- delete`.
    static func plan(_ changes: [JSONValue]) -> String {
        guard !changes.isEmpty else { return "no changes\n" }
        return changes.map { change in
            let kind = change["kind"]?.stringValue ?? "?"
            let name = change["name"]?.stringValue ?? "?"
            switch change["action"]?.stringValue {
            case "create": return "+ create \(kind) '\(name)'"
            case "delete": return "- delete \(kind) '\(name)'"
            default:
                let fields = (change["fields"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
                return "~ update \(kind) '\(name)': \(fields)"
            }
        }.joined(separator: "\n") + "\n"
    }
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check declarative config files offline; every problem is reported with its file, entity and field.",
        discussion: "Exit status: 0 when the files are valid, 1 when not."
    )

    @Argument(help: "Files or directories of .yaml, .yml and .json files, merged.")
    var paths: [String]

    func run() async throws {
        let source = try DeclarativeInput.load(paths, wholeDocument: true)
        let counts = DeclarativeSource.Counts(source)
        print("valid: \(counts)")
    }
}

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a sync of these files would change on the control plane.",
        discussion: "Exit status: 0 when nothing would change, 2 when something would, 1 on error."
    )

    @OptionGroup var files: ManagedFiles

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @OptionGroup var target: AdminTarget

    func run() async throws {
        let source = try files.load()
        let answer = try await DeclarativeInput.put(source, files: files, dryRun: true, ifMatch: nil, client: target.client)
        let changes = answer.json["changes"]?.arrayValue ?? []
        if json {
            print(JSONValue.object(["version": answer.json["version"] ?? .null, "changes": .array(changes)]).prettyString)
        } else {
            print(DeclarativeInput.plan(changes), terminator: "")
        }
        if !changes.isEmpty { throw ExitCode(2) }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply these files to the control plane as one new version, or change nothing.",
        discussion: """
            The plan is computed against the current version, then applied only if no other change \
            was committed meanwhile (If-Match). Syncing the same files again creates no version.

            Exit status: 0 when applied or nothing to change, 1 on error (nothing was applied), 3 when \
            the change was sent and no answer came: it may have been applied; `gatehouse diff` with \
            the same files tells (0: applied).
            """
    )

    @OptionGroup var files: ManagedFiles

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @OptionGroup var target: AdminTarget

    func run() async throws {
        let source = try files.load()
        let client = target.client
        let planned = try await DeclarativeInput.put(source, files: files, dryRun: true, ifMatch: nil, client: client)
        let changes = planned.json["changes"]?.arrayValue ?? []
        print(DeclarativeInput.plan(changes), terminator: "")
        let version = planned.json["version"]?.intValue ?? 0
        if dryRun || changes.isEmpty {
            print(dryRun ? "dry run: nothing written (version \(version))" : "nothing to change (version \(version))")
            return
        }
        let applied = try await DeclarativeInput.put(source, files: files, dryRun: false, ifMatch: version, client: client)
        print("applied as version \(applied.json["version"]?.intValue ?? -1)")
    }
}

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the live config as a declarative file; `dump` then `sync` changes nothing.",
        discussion: "Credentials appear as their stored hashes (key_hash, password_hash), never as secrets."
    )

    @Option(help: "Only entities carrying this tag.")
    var selectTag: String?

    @Option(help: "yaml or json.")
    var format = "yaml"

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    @OptionGroup var target: AdminTarget

    func validate() throws {
        guard ["yaml", "json"].contains(format) else { throw ValidationError("--format must be yaml or json") }
    }

    func run() async throws {
        let answer = try await target.client.fetch("GET", "/config")
        let document = DeclarativeSource.dumpable(answer, tag: selectTag)
        let text = format == "json" ? document.prettyString + "\n" : try YAMLDocument.write(document)
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }
}
