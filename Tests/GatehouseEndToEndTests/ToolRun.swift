import Foundation
import GatehouseTestSupport

/// One run of an outside program (schemathesis, bash) as a child process: its output goes to a
/// file, so a chatty tool never blocks on a full pipe, and the test awaits the exit without
/// holding a thread.
struct ToolRun: Sendable {
    let status: Int32
    let output: String

    /// The repository's root, where `Schema/`, `README.md` and `schemathesis.toml` are.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func run(
        _ executable: String, _ arguments: [String], in directory: URL = repositoryRoot, environment: [String: String] = [:],
        outputFile: String
    ) async throws -> ToolRun {
        guard FileManager.default.createFile(atPath: outputFile, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let status = await process.exited()
        let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
        return ToolRun(status: status, output: output)
    }

    /// The first executable `name` in `PATH`.
    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
