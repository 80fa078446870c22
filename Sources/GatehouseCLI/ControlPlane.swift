import ArgumentParser
import Foundation
import GatehouseAdmin
import GatehouseCluster
import GatehouseModel
import GatehouseProxy
import GatehouseStore
import Hummingbird
import HummingbirdTLS
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

struct ControlPlane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control-plane",
        abstract: "Run the control plane alone: the admin API, and the cluster endpoint data planes connect to.",
        discussion: """
            Every flag can also be set by the environment variable named in its help. Data planes \
            (`gatehouse data-plane`) connect to --cluster-listen with the same --cluster-token. An \
            admin write answers once the version is committed; data planes apply it right after \
            (GET /data-planes shows where each is). See docs/cluster-protocol.md.
            """
    )

    @Option(help: "SQLite database file (GATEHOUSE_DB).")
    var db = EnvironmentDefault.value("GATEHOUSE_DB", "./gatehouse.db")

    @Option(help: "Admin API listen address; keep it on loopback unless it is protected (GATEHOUSE_ADMIN_LISTEN).")
    var adminListen = EnvironmentDefault.value("GATEHOUSE_ADMIN_LISTEN", ListenAddress(host: "127.0.0.1", port: 8001), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(help: "Cluster endpoint listen address, for data planes (GATEHOUSE_CLUSTER_LISTEN).")
    var clusterListen = EnvironmentDefault.value("GATEHOUSE_CLUSTER_LISTEN", ListenAddress(host: "0.0.0.0", port: 8005), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(help: "The shared secret data planes must present (GATEHOUSE_CLUSTER_TOKEN).")
    var clusterToken = EnvironmentDefault.value("GATEHOUSE_CLUSTER_TOKEN", "")

    @Option(help: "PEM certificate the cluster endpoint serves TLS with; needs --cluster-key (GATEHOUSE_CLUSTER_CERT).")
    var clusterCert = EnvironmentDefault.value("GATEHOUSE_CLUSTER_CERT", "")

    @Option(help: "PEM private key of --cluster-cert (GATEHOUSE_CLUSTER_KEY).")
    var clusterKey = EnvironmentDefault.value("GATEHOUSE_CLUSTER_KEY", "")

    @Option(help: "PEM CA: data planes must present a client certificate it signed (mutual TLS) (GATEHOUSE_CLUSTER_CA).")
    var clusterCA = EnvironmentDefault.value("GATEHOUSE_CLUSTER_CA", "")

    var clusterTLS: ClusterTLS {
        ClusterTLS(
            certificatePath: clusterCert.isEmpty ? nil : clusterCert, keyPath: clusterKey.isEmpty ? nil : clusterKey,
            caPath: clusterCA.isEmpty ? nil : clusterCA)
    }

    @Option(help: "How long a data plane no longer heard from stays in GET /data-planes (GATEHOUSE_DATA_PLANE_PURGE_DELAY).")
    var dataPlanePurgeDelay = EnvironmentDefault.value(
        "GATEHOUSE_DATA_PLANE_PURGE_DELAY", ConfigDuration("1h")!, expected: "a duration such as 1h"
    ) { ConfigDuration($0) }

    @Option(help: "Largest PUT /config body, in bytes or with KiB/MiB (GATEHOUSE_ADMIN_CONFIG_BODY_LIMIT).")
    var adminConfigBodyLimit = EnvironmentDefault.value("GATEHOUSE_ADMIN_CONFIG_BODY_LIMIT", ByteSize("64MiB")!, expected: "a size such as 64MiB") {
        ByteSize($0)
    }

    @Option(
        help:
            "A directory of declarative files that owns the config: applied at start and on every change; admin writes are refused (GATEHOUSE_CONFIG_DIR)."
    )
    var configDir = EnvironmentDefault.value("GATEHOUSE_CONFIG_DIR", "")

    @Option(help: "trace, debug, info, notice, warning, error or critical (GATEHOUSE_LOG_LEVEL).")
    var logLevel = EnvironmentDefault.value("GATEHOUSE_LOG_LEVEL", Logger.Level.info, expected: "a log level") { Logger.Level(rawValue: $0) }

    func validate() throws {
        guard clusterToken.utf8.count >= 16 else {
            throw ValidationError("--cluster-token (GATEHOUSE_CLUSTER_TOKEN) must be set, at least 16 characters")
        }
        do {
            _ = try clusterTLS.serverConfiguration()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let logger = LogSetup.logger(level: logLevel)
        let publisher = SnapshotPublisher()
        let lock: WriterLock
        var store: ConfigStore?
        do {
            lock = try WriterLock(databasePath: db)
            if lock.tryAcquire() { store = try ControlPlaneService.open(db, publisher: publisher, logger: logger) }
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(db)", "error": "\(error)"])
            throw ExitCode(3)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let registry = DataPlaneRegistry(purgeDelay: dataPlanePurgeDelay.duration, committedAt: { publisher.publishedAt(version: $0) })
        let endpoint = ClusterEndpoint(publisher: publisher, registry: registry, token: clusterToken, logger: logger)
        let cluster = Application(
            router: endpoint.router(),
            server: try clusterTLS.serverConfiguration().map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(clusterListen.host, port: clusterListen.port), serverName: nil),
            onServerRunning: { [tls = !clusterCert.isEmpty] channel in
                logger.info("cluster listening", metadata: ["address": "\(channel.localAddress!.display)", "tls": "\(tls)"])
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        var adminOptions = AdminAPI.Options()
        adminOptions.enforcedPolicyTypes = PolicyCatalog.enforcedTypes
        adminOptions.configBodyLimit = adminConfigBodyLimit.bytes
        if !configDir.isEmpty { adminOptions.managedBy = configDir }
        adminOptions.dataPlanes = { registry.json(currentVersion: $0) }
        let controlPlane = ControlPlaneService(
            database: db, lock: lock, store: store, publisher: publisher, waitForApply: { _ in }, adminListen: adminListen,
            adminOptions: adminOptions, group: group, logger: logger, role: NIOLockedValueBox(store == nil ? "standby" : "writer"),
            configDirectory: configDir.isEmpty ? nil : ConfigDirectory(path: configDir, logger: logger)
        )
        // Shut down in reverse order: the open streams end first, so the cluster endpoint can stop.
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: controlPlane), .init(service: cluster), .init(service: StreamCloser(endpoint: endpoint))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await services.run()
        } catch is ControlPlaneService.OpenFailure {
            try? await group.shutdownGracefully()
            throw ExitCode(3)
        }
        try await group.shutdownGracefully()
        logger.info("stopped")
    }
}

/// Ends the data planes' streams when a graceful shutdown starts.
private struct StreamCloser: Service {
    let endpoint: ClusterEndpoint

    func run() async throws {
        try? await gracefulShutdown()
        endpoint.stop()
    }
}
