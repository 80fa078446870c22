import Foundation
import GatehouseModel
import NIOHTTP1
import Synchronization

/// The real `gatehouse` binary run as a child process, with every port on 0 and the ports it
/// picked read back from its log.
public final class GatehouseProcess: Sendable {
    public struct Ports: Sendable {
        public var proxy: Int
        public var admin: Int
        public var status: Int
        public var cluster = 0
    }

    public let ports: Ports
    private let process: Process
    private let log: LogBox

    /// The built `gatehouse` next to the test bundle (`swift build` puts them in one folder).
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["GATEHOUSE_BINARY"] { return path }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("gatehouse").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/gatehouse").path
    }

    /// Runs `gatehouse` with `arguments` and returns its combined output once it exits.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        return try await process.output()
    }

    /// Starts `gatehouse serve` on `db` and returns once the proxy, admin and status ports are known.
    /// - Parameters:
    ///   - proxyPort: a fixed proxy port (to start beside another process); 0 picks one.
    ///   - standby: the process is expected to wait as a standby, so no admin port is awaited.
    ///   - openFileLimit: the process's open-file limit (`RLIMIT_NOFILE`), set by `prlimit`.
    public static func serve(
        db: String, passDB: Bool = true, environment: [String: String] = [:], extraArguments: [String] = [],
        proxyPort: Int = 0, standby: Bool = false, openFileLimit: Int? = nil
    ) async throws -> GatehouseProcess {
        try await launch(
            ["serve"] + (passDB ? ["--db", db] : []) + [
                "--proxy-listen", "127.0.0.1:\(proxyPort)", "--admin-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0", "--workers", "2",
            ] + extraArguments,
            environment: environment,
            awaiting: standby ? ["proxy listening", "status listening"] : ["proxy listening", "status listening", "admin listening"],
            openFileLimit: openFileLimit)
    }

    /// Starts `gatehouse control-plane` on `db` and returns once its admin and cluster ports are known.
    /// - Parameter token: the cluster token, or `file:PATH` for a token file.
    public static func controlPlane(
        db: String, token: String, clusterPort: Int = 0, environment: [String: String] = [:], extraArguments: [String] = []
    ) async throws -> GatehouseProcess {
        try await launch(
            ["control-plane", "--db", db, "--admin-listen", "127.0.0.1:0", "--cluster-listen", "127.0.0.1:\(clusterPort)"] + tokenArguments(token)
                + extraArguments, environment: environment, awaiting: ["admin listening", "cluster listening"])
    }

    private static func tokenArguments(_ token: String) -> [String] {
        token.hasPrefix("file:") ? ["--cluster-token-file", String(token.dropFirst(5))] : ["--cluster-token", token]
    }

    /// Starts `gatehouse data-plane` and returns once its status port is known (its proxy port is
    /// known once it serves a config: `waitForProxy()`).
    public static func dataPlane(
        controlPlane: String, token: String, cacheDir: String, proxyPort: Int = 0, environment: [String: String] = [:], extraArguments: [String] = []
    ) async throws -> GatehouseProcess {
        try await launch(
            [
                "data-plane", "--control-plane", controlPlane, "--cache-dir", cacheDir,
                "--proxy-listen", "127.0.0.1:\(proxyPort)", "--status-listen", "127.0.0.1:0", "--workers", "2",
            ] + tokenArguments(token) + extraArguments, environment: environment, awaiting: ["status listening"])
    }

    private static func launch(
        _ arguments: [String], environment: [String: String] = [:], awaiting: [String], openFileLimit: Int? = nil
    ) async throws -> GatehouseProcess {
        let process = Process()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let openFileLimit {
            // prlimit sets the limit and becomes the command (same process).
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            process.arguments = ["--nofile=\(openFileLimit):\(openFileLimit)", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let box = LogBox()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            box.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
        var found: Ports?
        do {
            try await waitUntil("gatehouse to log its ports", deadline: .seconds(60)) {
                let text = box.text
                if !process.isRunning { throw TimedOut(description: "gatehouse exited early") }
                guard awaiting.allSatisfy({ port(in: text, for: $0) != nil }) else { return false }
                found = Ports(
                    proxy: port(in: text, for: "proxy listening") ?? 0, admin: port(in: text, for: "admin listening") ?? 0,
                    status: port(in: text, for: "status listening") ?? 0, cluster: port(in: text, for: "cluster listening") ?? 0)
                return true
            }
        } catch {
            process.terminate()
            throw TimedOut(description: "\(error); its output:\n\(box.text)")
        }
        return GatehouseProcess(process: process, log: box, ports: found!)
    }

    /// The proxy port, once the process has bound it (a data plane binds once it serves a
    /// config); `tls` for the TLS listener's.
    public func waitForProxy(tls: Bool = false) async throws -> Int {
        var found = 0
        try await waitUntil(tls ? "the TLS proxy port" : "the proxy port") {
            found = Self.port(in: output, for: tls ? "proxy-tls listening" : "proxy listening") ?? 0
            return found != 0
        }
        return found
    }

    private init(process: Process, log: LogBox, ports: Ports) {
        self.process = process
        self.log = log
        self.ports = ports
    }

    /// A test that ends early (a failed expectation, a thrown error) must not leave it running.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var output: String { log.text }
    public var isRunning: Bool { process.isRunning }

    /// SIGKILL: the process gets no chance to clean up.
    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The admin port once this process became the writer (a standby logs it when it takes over).
    public func adminPort() async throws -> Int {
        var found = 0
        try await waitUntil("the admin port") {
            found = Self.port(in: output, for: "admin listening") ?? 0
            return found != 0
        }
        return found
    }

    /// Resident memory of the process, in KiB (Linux).
    public var residentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    /// Creates upstream `u` (the given upstream) and route `all` to it through the admin API;
    /// throws unless both are created.
    public func routeEverything(to upstream: TestUpstream) async throws {
        let created = try await httpRequest(
            port: ports.admin, .POST, "/upstreams", json: ["name": "u", "targets": [["target": .string(upstream.target)]]])
        let routed = try await httpRequest(port: ports.admin, .POST, "/routes", json: ["name": "all", "upstream": "u"])
        guard created.status == 201, routed.status == 201 else {
            throw TimedOut(description: "could not route to the upstream: \(created.status) \(routed.status) \(routed.text)")
        }
    }

    /// Sends a signal without waiting.
    public func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits (polling, with a deadline) for the process to exit and returns its status.
    public func exitStatus() async throws -> Int32 {
        try await waitUntil("gatehouse to exit", deadline: .seconds(60)) { !process.isRunning }
        return await process.exited()
    }

    /// SIGTERM, then waits for the exit status.
    public func terminate() async -> Int32 {
        process.terminate()
        return await process.exited()
    }

    /// SIGKILL, for the end of a test (a `defer`) that needs it gone, not its exit status; keeps
    /// the process alive until then.
    public func stop() {
        kill9()
    }

    /// Waits until the data plane serves `version` or later.
    public func waitForConfigVersion(_ version: Int) async throws {
        try await waitUntil("config version \(version) on the status port") {
            let status = try await httpRequest(port: ports.status, .GET, "/status")
            return (status.json["config_version"]?.intValue ?? -1) >= version
        }
    }

    public static func port(in log: String, for message: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains(message) {
            guard let range = line.range(of: "address=") else { continue }
            let address = line[range.upperBound...].prefix { $0 != " " }
            if let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) { return port }
        }
        return nil
    }
}

private final class LogBox: Sendable {
    let log = Mutex("")
    func append(_ text: String) { log.withLock { $0 += text } }
    var text: String { log.withLock { $0 } }
}
