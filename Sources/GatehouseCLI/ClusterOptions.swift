import ArgumentParser
import GatehouseCluster
import Logging

/// The cluster's shared secret and TLS files, on both sides of the cluster protocol: the control
/// plane serves TLS with the certificate and requires client certificates signed by the CA; a
/// data plane verifies the control plane with the CA and presents the certificate. Plain HTTP
/// beyond loopback is the operator's explicit choice (`--cluster-insecure`).
struct ClusterOptions: ParsableArguments {
    @Option(help: "The shared secret of the cluster, the same on every process (GATEHOUSE_CLUSTER_TOKEN).")
    var clusterToken = EnvironmentDefault.value("GATEHOUSE_CLUSTER_TOKEN", "")

    @Option(
        help:
            "A file of cluster tokens, one a line, read again when it changes: the first is sent, every one accepted (for a rotation without restarts); instead of --cluster-token (GATEHOUSE_CLUSTER_TOKEN_FILE)."
    )
    var clusterTokenFile = EnvironmentDefault.value("GATEHOUSE_CLUSTER_TOKEN_FILE", "")

    @Option(help: "PEM certificate: the control plane's for TLS, or a data plane's client certificate (GATEHOUSE_CLUSTER_CERT).")
    var clusterCert = EnvironmentDefault.value("GATEHOUSE_CLUSTER_CERT", "")

    @Option(help: "PEM private key of --cluster-cert (GATEHOUSE_CLUSTER_KEY).")
    var clusterKey = EnvironmentDefault.value("GATEHOUSE_CLUSTER_KEY", "")

    @Option(
        help:
            "PEM CA: on the control plane, data planes must present a certificate it signed (mutual TLS); on a data plane, the CA of the control plane's certificate (default: the system's roots) (GATEHOUSE_CLUSTER_CA)."
    )
    var clusterCA = EnvironmentDefault.value("GATEHOUSE_CLUSTER_CA", "")

    @Flag(
        help:
            "Allow the cluster link in plain HTTP beyond loopback: a data plane refuses an http:// control plane on another address without it; a control plane warns (GATEHOUSE_CLUSTER_INSECURE=1)."
    )
    var clusterInsecure = false

    /// Checks that one of the token and the token file is given and usable (`minimum`: the
    /// control plane asks for 16 characters of a flag token; a file's are always checked).
    func checkTokens(minimumFlagLength minimum: Int) throws {
        switch (clusterToken.isEmpty, clusterTokenFile.isEmpty) {
        case (false, false):
            throw ValidationError("give --cluster-token (GATEHOUSE_CLUSTER_TOKEN) or --cluster-token-file (GATEHOUSE_CLUSTER_TOKEN_FILE), not both")
        case (true, true):
            throw ValidationError("--cluster-token (GATEHOUSE_CLUSTER_TOKEN) or --cluster-token-file (GATEHOUSE_CLUSTER_TOKEN_FILE) must be set")
        case (false, true):
            guard clusterToken.utf8.count >= minimum else {
                throw ValidationError("--cluster-token (GATEHOUSE_CLUSTER_TOKEN) must be set, at least \(minimum) characters")
            }
        case (true, false):
            do {
                _ = try ClusterTokens.read(clusterTokenFile)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    /// The tokens given: fixed, or watched in their file.
    func tokens(logger: Logger) throws -> ClusterTokens {
        if clusterTokenFile.isEmpty { return ClusterTokens(clusterToken) }
        do {
            return try ClusterTokens(file: clusterTokenFile, logger: logger)
        } catch {
            throw ValidationError(error.description)
        }
    }

    var insecure: Bool { clusterInsecure || EnvironmentDefault.flag("GATEHOUSE_CLUSTER_INSECURE") }

    var tls: ClusterTLS {
        ClusterTLS(
            certificatePath: clusterCert.isEmpty ? nil : clusterCert, keyPath: clusterKey.isEmpty ? nil : clusterKey,
            caPath: clusterCA.isEmpty ? nil : clusterCA)
    }
}
