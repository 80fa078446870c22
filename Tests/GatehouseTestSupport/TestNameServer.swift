import Foundation
import NIOCore
import NIOPosix

/// A real name server for tests: Debian's dnsmasq on a free loopback port, answering for `.test`
/// names from its own records only (a hosts directory it watches, SRV records and CNAMEs given at
/// start), every answer with a TTL of 1 s.
///
/// It runs under `sh`: dnsmasq closes every descriptor it inherits, among them the socket
/// Foundation's `Process` watches to notice an exit, and Foundation's one watcher thread would
/// then block in `waitpid` on it, so no process of the test would be seen to exit any more. The
/// shell keeps that socket open. Both are stopped with SIGKILL to their process group: dnsmasq
/// inherits the test process's blocked signal mask, SIGTERM and SIGHUP included.
public final class TestNameServer: @unchecked Sendable {
    public struct Service: Sendable {
        public var name: String
        public var target: String
        public var port: Int
        public var priority = 0
        public var weight = 10

        public init(name: String, target: String, port: Int, priority: Int = 0, weight: Int = 10) {
            self.name = name
            self.target = target
            self.port = port
            self.priority = priority
            self.weight = weight
        }
    }

    public let port: Int
    private let directory: TemporaryDirectory
    private var process: Process

    public var address: String { "127.0.0.1:\(port)" }

    public static func start(
        hosts: [(address: String, name: String)], services: [Service] = [], aliases: [(alias: String, name: String)] = []
    ) async throws -> TestNameServer {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("hosts.d"), withIntermediateDirectories: true)
        try write(hosts, in: directory)
        // dnsmasq exits with status 2 when its port was taken meanwhile.
        let (port, process) = try await onFreePort(udp: true) { port in
            try await launch(port: port, directory: directory, services: services, aliases: aliases)
        }
        return TestNameServer(port: port, directory: directory, process: process)
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

    /// Replaces the host records; dnsmasq sees the file change (inotify) and reads it again.
    public func setHosts(_ hosts: [(address: String, name: String)]) async throws {
        let before = Self.reloads(in: directory)
        try Self.write(hosts, in: directory)
        try await waitUntil("dnsmasq to re-read its hosts file") { Self.reloads(in: directory) > before }
    }

    /// Starts again on the same port with other SRV records and aliases.
    public func restart(services: [Service], aliases: [(alias: String, name: String)] = []) async throws {
        stop()
        // The shell is gone; dnsmasq, killed with it, may hold the port a moment longer.
        try await waitUntil("the name server's port to be free") {
            guard let probe = try? await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: port).get()
            else { return false }
            try await probe.close()
            return true
        }
        var attempts = 0
        while true {
            do {
                process = try await Self.launch(port: port, directory: directory, services: services, aliases: aliases)
                return
            } catch is PortTaken where attempts < 20 {
                attempts += 1
            }
        }
    }

    public func stop() {
        guard process.isRunning else { return }
        // `Process` makes the shell a process group leader.
        kill(-process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Written beside the watched directory and renamed into it, so dnsmasq reads it whole once.
    private static func write(_ hosts: [(address: String, name: String)], in directory: TemporaryDirectory) throws {
        let staged = directory.file("hosts.staged")
        try hosts.map { "\($0.address) \($0.name)\n" }.joined().write(toFile: staged, atomically: false, encoding: .utf8)
        guard rename(staged, directory.file("hosts.d/hosts")) == 0 else { throw TimedOut(description: "could not rename the hosts file") }
    }

    private static func reloads(in directory: TemporaryDirectory) -> Int {
        let log = (try? String(contentsOfFile: directory.file("log"), encoding: .utf8)) ?? ""
        return log.components(separatedBy: "read \(directory.file("hosts.d/hosts"))").count - 1
    }

    private static func launch(
        port: Int, directory: TemporaryDirectory, services: [Service], aliases: [(alias: String, name: String)]
    ) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let arguments =
            [
                "--keep-in-foreground", "--conf-file=/dev/null", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--local=/test/", "--hostsdir=\(directory.file("hosts.d"))", "--local-ttl=1", "--pid-file=",
                "--log-facility=\(directory.file("log"))",
            ]
            // As root it would switch to `nobody`, who may not read the test's directory.
            + (getuid() == 0 ? ["--user=root"] : [])
            + services.map { "--srv-host=\($0.name),\($0.target),\($0.port),\($0.priority),\($0.weight)" }
            + aliases.map { "--cname=\($0.alias),\($0.name)" }
        // Not `exec`: the shell must stay, holding the socket (see above).
        process.arguments = ["-c", "/usr/sbin/dnsmasq \"$@\"; exit $?", "sh"] + arguments
        // Not the test run's own output: a server outliving a crashed test process would hold it open.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? FileManager.default.removeItem(atPath: directory.file("log"))
        try process.run()
        // It logs reading the hosts file once its socket is bound.
        try await waitUntil("dnsmasq to start") {
            if !process.isRunning {
                // dnsmasq's exit status 2 is a network error: here, the port was taken.
                if process.terminationStatus == 2 { throw PortTaken() }
                throw TimedOut(description: "dnsmasq exited: \(process.terminationStatus)")
            }
            return reloads(in: directory) > 0
        }
        return process
    }
}
