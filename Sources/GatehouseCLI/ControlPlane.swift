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

    @OptionGroup var controlPlane: ControlPlaneOptions

    @Option(help: "Cluster endpoint listen address, for data planes (GATEHOUSE_CLUSTER_LISTEN).")
    var clusterListen = EnvironmentDefault.value("GATEHOUSE_CLUSTER_LISTEN", ListenAddress(host: "0.0.0.0", port: 8005), expected: "host:port") {
        ListenAddress($0)
    }

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "How long a data plane no longer heard from stays in GET /data-planes (GATEHOUSE_DATA_PLANE_PURGE_DELAY).")
    var dataPlanePurgeDelay = EnvironmentDefault.value(
        "GATEHOUSE_DATA_PLANE_PURGE_DELAY", ConfigDuration("1h")!, expected: "a duration such as 1h"
    ) { ConfigDuration($0) }

    @Option(help: "trace, debug, info, notice, warning, error or critical (GATEHOUSE_LOG_LEVEL).")
    var logLevel = EnvironmentDefault.value("GATEHOUSE_LOG_LEVEL", Logger.Level.info, expected: "a log level") { Logger.Level(rawValue: $0) }

    func validate() throws {
        try cluster.checkTokens(minimumFlagLength: 16)
        do {
            _ = try cluster.tls.serverConfiguration()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let logger = LogSetup.logger(level: logLevel)
        var adminAuth = try controlPlane.adminAuthSettings(logger: logger)
        if cluster.clusterCert.isEmpty, !clusterListen.isLoopback, !cluster.insecure {
            logger.warning(
                "the cluster endpoint serves plain HTTP beyond loopback: the cluster token and snapshots cross the network in clear. Serve TLS (--cluster-cert, --cluster-key), or pass --cluster-insecure to say this is intended",
                metadata: ["address": "\(clusterListen)"])
        }
        let publisher = SnapshotPublisher()
        let lock: WriterLock
        var store: ConfigStore?
        do {
            lock = try WriterLock(databasePath: controlPlane.db)
            if lock.tryAcquire() { store = try ControlPlaneService.open(
                    controlPlane.db, historyKeep: controlPlane.historyRetention, sealer: controlPlane.sealer, publisher: publisher, logger: logger) }
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(controlPlane.db)", "error": "\(error)"])
            throw ExitCode(3)
        }
        adminAuth = try controlPlane.checkedAdminAuth(adminAuth, store: store, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let registry = DataPlaneRegistry(purgeDelay: dataPlanePurgeDelay.duration, committedAt: { publisher.publishedAt(version: $0) })
        let endpoint = ClusterEndpoint(publisher: publisher, registry: registry, tokens: try cluster.tokens(logger: logger), logger: logger)
        let clusterEndpoint = Application(
            router: endpoint.router(),
            server: try cluster.tls.serverConfiguration(watching: logger).map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(clusterListen.host, port: clusterListen.port), serverName: nil),
            onServerRunning: { [tls = !cluster.clusterCert.isEmpty] channel in
                logger.info("cluster listening", metadata: ["address": "\(channel.localAddress!.display)", "tls": "\(tls)"])
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        var adminOptions = controlPlane.adminOptions
        adminOptions.auth = adminAuth
        adminOptions.dataPlanes = { registry.json(currentVersion: $0, currentEpoch: publisher.epoch) }
        adminOptions.dataPlaneMetrics = { registry.prometheusText(currentVersion: $0) }
        let controlPlaneService = ControlPlaneService(
            database: controlPlane.db, lock: lock, store: store, publisher: publisher, waitForApply: { _ in }, adminListen: controlPlane.adminListen,
            adminIdleTimeout: controlPlane.adminIdleTimeout.timeAmount,
            adminOptions: adminOptions, group: group, logger: logger, role: NIOLockedValueBox(store == nil ? "standby" : "writer"),
            configDirectory: controlPlane.configDirectory(logger: logger), historyKeep: controlPlane.historyRetention, sealer: controlPlane.sealer
        )
        // Shut down in reverse order: the open streams end first, so the cluster endpoint can stop.
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: controlPlaneService), .init(service: clusterEndpoint), .init(service: StreamCloser(endpoint: endpoint))],
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
