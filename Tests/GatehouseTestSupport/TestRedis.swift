import Foundation
import NIOCore
import NIOPosix

/// A real `redis-server` (Debian's package) on a free loopback port, keeping nothing on disk.
/// Stopped with SIGKILL: it may inherit the test process's blocked signal mask.
public final class TestRedis: @unchecked Sendable {
    public let port: Int
    private let directory: TemporaryDirectory
    private var process: Process?

    public var url: String { "redis://127.0.0.1:\(port)" }

    public static func start() async throws -> TestRedis {
        let directory = try TemporaryDirectory()
        var attempts = 0
        while true {
            // A free port: bound by the kernel, released, then handed to Redis. Should another
            // test take it meanwhile, Redis exits and we pick again.
            let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            let port = probe.localAddress!.port!
            try await probe.close()
            do {
                return TestRedis(port: port, directory: directory, process: try await launch(port: port, directory: directory))
            } catch is PortTaken where attempts < 20 {
                attempts += 1
            }
        }
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
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts again on the same port, empty.
    public func restart() async throws {
        stop()
        var attempts = 0
        while true {
            do {
                process = try await Self.launch(port: port, directory: directory)
                return
            } catch is PortTaken where attempts < 20 {
                attempts += 1
            }
        }
    }

    /// Runs a command with `redis-cli` and returns what it printed.
    public func cli(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(port)] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func launch(port: Int, directory: TemporaryDirectory) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path, "--daemonize", "no",
            "--logfile", directory.file("redis.log"),
        ]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try await waitUntil("redis-server to listen") {
            if !process.isRunning { throw PortTaken() }
            guard
                let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
            else { return false }
            try? await channel.close()
            return true
        }
        return process
    }

    private struct PortTaken: Error {}
}
