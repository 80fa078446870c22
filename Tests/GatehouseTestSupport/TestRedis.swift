import Foundation
import NIOCore
import NIOPosix

/// A real `redis-server` (Debian's package) on a free loopback port, keeping nothing on disk.
/// Stopped with SIGKILL: it may inherit the test process's blocked signal mask.
public final class TestRedis: @unchecked Sendable {
    public let port: Int
    private let password: String?
    private let directory: TemporaryDirectory
    private var process: Process?

    public var url: String { "redis://127.0.0.1:\(port)" }

    /// - Parameter password: when set, clients must log in (`requirepass`).
    public static func start(password: String? = nil) async throws -> TestRedis {
        let directory = try TemporaryDirectory()
        let (port, process) = try await onFreePort { port in try await launch(port: port, password: password, directory: directory) }
        return TestRedis(port: port, password: password, directory: directory, process: process)
    }

    private init(port: Int, password: String?, directory: TemporaryDirectory, process: Process) {
        self.port = port
        self.password = password
        self.directory = directory
        self.process = process
    }

    deinit {
        stop()
        directory.remove()
    }

    public func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    public func pause() {
        guard let process else { return }
        kill(process.processIdentifier, SIGSTOP)
    }

    public func resume() {
        guard let process else { return }
        kill(process.processIdentifier, SIGCONT)
    }

    /// Runs a command with `redis-cli` and returns what it printed.
    public func cli(_ arguments: String...) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(port)] + (password.map { ["--no-auth-warning", "-a", $0] } ?? []) + arguments
        return try await process.output().output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func launch(port: Int, password: String?, directory: TemporaryDirectory) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments =
            [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path, "--daemonize", "no",
                "--logfile", directory.file("redis.log"),
            ] + (password.map { ["--requirepass", $0] } ?? [])
        // Not the test run's own output: a server outliving a crashed test process would hold it open.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? FileManager.default.removeItem(atPath: directory.file("redis.log"))
        try process.run()
        // Its own word that it listens, not a connection to the port: another test's server may
        // have taken the port first, and then this Redis exits.
        try await waitUntil("redis-server to listen") {
            if !process.isRunning { throw PortTaken() }
            let log = (try? String(contentsOfFile: directory.file("redis.log"), encoding: .utf8)) ?? ""
            return log.contains("Ready to accept connections")
        }
        return process
    }
}
