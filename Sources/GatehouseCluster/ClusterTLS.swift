import Logging
import NIOCore
import NIOSSL

/// TLS for the cluster endpoint, from PEM files: the control plane's certificate and key, and the
/// CA whose client certificates it requires (mutual TLS); on the data plane, the CA that signed
/// the control plane's certificate and its own client certificate and key.
public struct ClusterTLS: Sendable {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public var certificatePath: String?
    public var keyPath: String?
    public var caPath: String?

    public init(certificatePath: String?, keyPath: String?, caPath: String?) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.caPath = caPath
    }

    /// The control plane's server configuration; nil without a certificate (plain HTTP). With a
    /// logger, the certificate and key files are watched: each handshake takes the newest pair
    /// that loads, so a renewed certificate serves without a restart (the CA is read at start).
    public func serverConfiguration(watching logger: Logger? = nil) throws(Invalid) -> TLSConfiguration? {
        guard let certificatePath else {
            if keyPath != nil || caPath != nil { throw Invalid(description: "--cluster-key and --cluster-ca need --cluster-cert") }
            return nil
        }
        guard let keyPath else { throw Invalid(description: "--cluster-cert needs --cluster-key") }
        do {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
            if let caPath {
                // Mutual TLS: only data planes with a certificate this CA signed get in.
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
                configuration.certificateVerification = .noHostnameVerification
            }
            if let logger {
                let pair = try WatchedFiles([certificatePath, keyPath], what: "the cluster certificate", logger: logger) {
                    var pair = NIOSSLContextConfigurationOverride()
                    pair.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
                    pair.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
                    // A pair that does not belong together must not replace one that does.
                    _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: pair.certificateChain!, privateKey: pair.privateKey!))
                    return pair
                }
                configuration.sslContextCallback = { _, promise in promise.succeed(pair.current) }
            }
            return configuration
        } catch {
            throw Invalid(description: "cannot load the cluster certificate, key or CA: \(error)")
        }
    }

    /// The data plane's client context for an `https` control plane, made again when one of its
    /// files changed: each new connection to the control plane uses the newest that loads.
    public func clientContexts(logger: Logger) throws(Invalid) -> @Sendable () -> NIOSSLContext {
        let configuration = self
        let paths = [certificatePath, keyPath, caPath].compactMap { $0 }
        do {
            let contexts = try WatchedFiles(paths, what: "the cluster client certificate and CA", logger: logger) {
                try NIOSSLContext(configuration: try configuration.clientConfiguration())
            }
            return { contexts.current }
        } catch let error as Invalid {
            throw error
        } catch {
            throw Invalid(description: "cannot load the cluster certificate, key or CA: \(error)")
        }
    }

    /// The data plane's client configuration for an `https` control plane.
    public func clientConfiguration() throws(Invalid) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            if let caPath { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath)) }
            switch (certificatePath, keyPath) {
            case (let certificate?, let key?):
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            case (nil, nil):
                break
            default:
                throw Invalid(description: "--cluster-cert and --cluster-key go together")
            }
        } catch let error as Invalid {
            throw error
        } catch {
            throw Invalid(description: "cannot load the cluster certificate, key or CA: \(error)")
        }
        return configuration
    }
}
