import GatehouseModel
import NIOCore
import NIOSSL

/// The proxy's TLS listener settings: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only
/// (Mozilla's "intermediate" list; TLS 1.3's suites are all AEAD), HTTP/1.1 by ALPN, and the
/// certificate chosen per handshake from the config being served.
public enum EdgeTLS {
    static let cipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// A handshake names no certificate the config holds, and there is no default.
    struct NoCertificate: Error, CustomStringConvertible {
        let serverName: String?
        var description: String { "no certificate for \(serverName.map { "'\($0)'" } ?? "a client without SNI") and no default" }
    }

    /// One context for the listener's life: the certificate is looked up in `active`'s config at
    /// each handshake, so a new snapshot's certificates serve the next handshake, and a
    /// connection already open keeps what it agreed.
    public static func context(active: ActiveConfig) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.cipherSuites = cipherSuites
        configuration.applicationProtocols = ["http/1.1"]
        configuration.sslContextCallback = { values, promise in
            if let entry = active.load()?.certificates.match(values.serverHostname) {
                promise.succeed(entry.override)
            } else {
                promise.fail(NoCertificate(serverName: values.serverHostname))
            }
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
