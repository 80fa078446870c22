import Foundation

/// A throwaway certificate authority, a server certificate it signed for `127.0.0.1` and
/// `localhost`, and a client certificate (for mutual TLS), made with the `openssl` command.
public struct TestCertificates: Sendable {
    public let caPEM: String
    public let serverCertificatePEM: String
    public let serverKeyPEM: String
    public let clientCertificatePEM: String
    public let clientKeyPEM: String

    /// Writes every PEM into `directory` as ca.pem, server.pem, server.key, client.pem, client.key.
    public func write(to directory: TemporaryDirectory) throws {
        for (name, text) in [
            ("ca.pem", caPEM), ("server.pem", serverCertificatePEM), ("server.key", serverKeyPEM), ("client.pem", clientCertificatePEM),
            ("client.key", clientKeyPEM),
        ] {
            try text.write(toFile: directory.file(name), atomically: true, encoding: .utf8)
        }
    }

    public static func make() async throws -> TestCertificates {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func openssl(_ arguments: [String]) async throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            guard await process.exited() == 0 else { throw TimedOut(description: "openssl \(arguments.first ?? "") failed") }
        }
        try await openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Gatehouse Test CA",
        ])
        try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: dir.file("san.ext"), atomically: true, encoding: .utf8)
        try await openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
            "-days", "2", "-extfile", "san.ext",
        ])
        try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=data-plane"])
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir.file("client.ext"), atomically: true, encoding: .utf8)
        try await openssl([
            "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem",
            "-days", "2", "-extfile", "client.ext",
        ])
        func read(_ name: String) throws -> String { try String(contentsOfFile: dir.file(name), encoding: .utf8) }
        return TestCertificates(
            caPEM: try read("ca.pem"), serverCertificatePEM: try read("server.pem"), serverKeyPEM: try read("server.key"),
            clientCertificatePEM: try read("client.pem"), clientKeyPEM: try read("client.key"))
    }
}
