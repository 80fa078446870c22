import Foundation
import GatehouseModel
import NIOHTTP1

/// A real Prometheus (Debian's package) on a free loopback port, scraping the given targets
/// every second and evaluating the given rule files; its data in a temporary directory.
public final class TestPrometheus: @unchecked Sendable {
    public let port: Int
    private let directory: TemporaryDirectory
    private let process: Process

    /// - Parameters:
    ///   - jobs: job name → `host:port` targets serving `/metrics`.
    ///   - ruleFiles: paths of alerting or recording rule files.
    public static func start(jobs: [String: [String]], ruleFiles: [String] = []) async throws -> TestPrometheus {
        let directory = try TemporaryDirectory()
        var config = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        if !ruleFiles.isEmpty { config += "rule_files:\n" + ruleFiles.map { "  - \"\($0)\"\n" }.joined() }
        config += "scrape_configs:\n"
        for (job, targets) in jobs.sorted(by: { $0.key < $1.key }) {
            config += "  - job_name: \(job)\n    static_configs:\n      - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        }
        try config.write(toFile: directory.file("prometheus.yml"), atomically: true, encoding: .utf8)
        let (port, process) = try await onFreePort { port in try await launch(port: port, directory: directory) }
        return TestPrometheus(port: port, directory: directory, process: process)
    }

    private init(port: Int, directory: TemporaryDirectory, process: Process) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    deinit {
        stop()
        directory.remove()
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// An instant query's `data` (`resultType`, `result`); throws on an error answer.
    public func query(_ promql: String) async throws -> JSONValue {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = promql.addingPercentEncoding(withAllowedCharacters: allowed)!
        let answer = try await httpRequest(port: port, .GET, "/api/v1/query?query=\(encoded)")
        guard answer.status == 200, answer.json["status"] == "success" else {
            throw QueryFailed(description: "\(promql): \(answer.status) \(answer.text)")
        }
        return answer.json["data"] ?? .null
    }

    /// The value of a query that gives one sample (nil when it gives none).
    public func value(_ promql: String) async throws -> Double? {
        let result = try await query(promql)["result"]?.arrayValue ?? []
        guard result.count == 1, let text = result[0]["value"]?.arrayValue?.last?.stringValue else { return nil }
        return Double(text)
    }

    /// `GET /api/v1/<path>`'s `data`.
    public func api(_ path: String) async throws -> JSONValue {
        let answer = try await httpRequest(port: port, .GET, "/api/v1/" + path)
        guard answer.status == 200 else { throw QueryFailed(description: "\(path): \(answer.status) \(answer.text)") }
        return answer.json["data"] ?? .null
    }

    public struct QueryFailed: Error, CustomStringConvertible {
        public let description: String
    }

    private static func launch(port: Int, directory: TemporaryDirectory) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = [
            "--config.file=" + directory.file("prometheus.yml"), "--storage.tsdb.path=" + directory.file("data"),
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=info",
        ]
        _ = FileManager.default.createFile(atPath: directory.file("prometheus.log"), contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: directory.file("prometheus.log"))
        try process.run()
        try await waitUntil("prometheus to listen", deadline: .seconds(60)) {
            if !process.isRunning { throw PortTaken() }
            let log = (try? String(contentsOfFile: directory.file("prometheus.log"), encoding: .utf8)) ?? ""
            return log.contains("Server is ready to receive web requests")
        }
        return process
    }
}
