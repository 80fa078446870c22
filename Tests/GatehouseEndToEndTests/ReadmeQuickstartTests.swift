import Foundation
import GatehouseModel
import GatehouseTestSupport
import Testing

/// The README's quickstart, followed literally: every shell command of its "Quickstart" section
/// runs in order against a real `gatehouse serve`, with only the addresses rewritten (8000, 8001
/// and 8100 become the ports the process picked), and each must do what its comment says.
@Suite struct ReadmeQuickstartTests {
    /// One command of the README and what its comments promise.
    struct Step: CustomStringConvertible {
        var command: String
        /// `# 404: …` after the command; a curl command without one must answer 2xx.
        var status: Int?
        /// `# 200, Name: value`: header lines the output must hold.
        var headers: [String] = []
        /// A `# {…}` line below the command: the JSON it must answer.
        var json: String?
        var description: String { command }
    }

    static func quickstart() throws -> [Step] {
        let readme = try String(contentsOf: ToolRun.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex(of: "## Quickstart"), "README.md has a Quickstart section")
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix("## ") } ?? lines.endIndex
        var steps: [Step] = []
        var inBlock = false
        var pending = ""
        for line in lines[start..<end] {
            if line.hasPrefix("```") {
                inBlock = line == "```sh"
                continue
            }
            guard inBlock else { continue }
            pending += pending.isEmpty ? line : "\n" + line
            let (code, comment, open) = split(pending)
            if open || code.hasSuffix("\\") { continue }
            pending = ""
            let command = code.trimmingCharacters(in: .whitespaces)
            if command.isEmpty {
                // A comment line of its own: the JSON the command above answers, or prose.
                if let comment, comment.hasPrefix("{"), !steps.isEmpty { steps[steps.count - 1].json = comment }
                continue
            }
            var step = Step(command: command)
            if let comment, let status = Int(comment.prefix(3)), comment.prefix(3).allSatisfy(\.isNumber) {
                step.status = status
                step.headers = comment.dropFirst(3).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0.range(of: #"^[A-Za-z][A-Za-z0-9-]*: \S+$"#, options: .regularExpression) != nil }
            }
            steps.append(step)
        }
        return steps
    }

    /// The code and the comment of a shell line, and whether a quote is still open at its end.
    static func split(_ text: String) -> (code: String, comment: String?, open: Bool) {
        var single = false
        var double = false
        var previous: Character = " "
        for index in text.indices {
            let character = text[index]
            switch character {
            case "'" where !double: single.toggle()
            case "\"" where !single && previous != "\\": double.toggle()
            case "#" where !single && !double && previous.isWhitespace:
                let comment = text[text.index(after: index)...].trimmingCharacters(in: .whitespaces)
                return (String(text[..<index]), comment, false)
            default: break
            }
            previous = character
        }
        return (text, nil, single || double)
    }

    /// `localhost:8001` and the like, pointed at the ports of the process under test.
    static func rewritingAddresses(_ command: String, _ ports: GatehouseProcess.Ports) -> String {
        var result = command
        for (readme, port) in [("8000", ports.proxy), ("8001", ports.admin), ("8100", ports.status)] {
            result = result.replacingOccurrences(
                of: #"\b(localhost|127\.0\.0\.1):\#(readme)\b"#, with: "$1:\(port)", options: .regularExpression)
        }
        return result
    }

    @Test func theQuickstartRunsTopToBottomAsPrinted() async throws {
        let steps = try Self.quickstart()
        try #require(steps.count >= 15, "the quickstart's commands: \(steps)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gatehouse = try await GatehouseProcess.serve(db: directory.file("gatehouse.db"))
        defer { gatehouse.stop() }
        let binaries = URL(fileURLWithPath: GatehouseProcess.binary).deletingLastPathComponent().path
        let environment = [
            "PATH": binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            // The README's commands use the CLI's default admin address, 127.0.0.1:8001.
            "GATEHOUSE_ADMIN_URL": "http://127.0.0.1:\(gatehouse.ports.admin)",
        ]
        // curl reports the status it got after the body; nothing else of the command changes.
        let prelude = #"curl() { command curl -w '\n@@status=%{http_code}' "$@"; }"#
        for (number, step) in steps.enumerated() {
            let command = Self.rewritingAddresses(step.command, gatehouse.ports)
            let run = try await ToolRun.run(
                "/bin/bash", ["-c", prelude + "\n" + command], environment: environment, outputFile: directory.file("step-\(number).txt"))
            let context = "README step \(number + 1): \(step.command)\nran: \(command)\nexit \(run.status), output:\n\(run.output)"
            try #require(run.status == 0, "\(context)")
            guard let marker = run.output.range(of: "\n@@status=", options: .backwards) else {
                #expect(!step.command.hasPrefix("curl"), "\(context)")
                continue
            }
            let status = Int(run.output[marker.upperBound...].prefix(3)) ?? 0
            let body = String(run.output[..<marker.lowerBound])
            if let expected = step.status {
                try #require(status == expected, "\(context)")
            } else {
                try #require((200..<300).contains(status), "\(context)")
            }
            for header in step.headers {
                #expect(body.lowercased().contains(header.lowercased()), "\(context)\nmissing header line: \(header)")
            }
            if let json = step.json {
                #expect(try JSONValue.parse(Array(body.utf8)) == JSONValue.parse(Array(json.utf8)), "\(context)\nexpected: \(json)")
            }
        }
        #expect(gatehouse.isRunning)
    }
}
