import ArgumentParser
import GatehouseAdmin
import GatehouseCluster
import GatehouseModel
import GatehouseProxy
import GatehouseStore
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the control plane and one embedded data plane in one process.",
        discussion: """
            Every flag can also be set by the environment variable named in its help. Port 0 picks \
            a free port; the chosen ports are logged. SIGTERM or SIGINT stops the process.
            """
    )

    @Option(help: "SQLite database file (GATEHOUSE_DB).")
    var db = EnvironmentDefault.value("GATEHOUSE_DB", "./gatehouse.db")

    @Option(help: "Proxy listen address (GATEHOUSE_PROXY_LISTEN).")
    var proxyListen = EnvironmentDefault.value("GATEHOUSE_PROXY_LISTEN", ListenAddress(host: "0.0.0.0", port: 8000), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(help: "Admin API listen address; keep it on loopback unless it is protected (GATEHOUSE_ADMIN_LISTEN).")
    var adminListen = EnvironmentDefault.value("GATEHOUSE_ADMIN_LISTEN", ListenAddress(host: "127.0.0.1", port: 8001), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(help: "Status and metrics listen address (GATEHOUSE_STATUS_LISTEN).")
    var statusListen = EnvironmentDefault.value("GATEHOUSE_STATUS_LISTEN", ListenAddress(host: "127.0.0.1", port: 8100), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(help: "Largest PUT /config body, in bytes or with KiB/MiB (GATEHOUSE_ADMIN_CONFIG_BODY_LIMIT).")
    var adminConfigBodyLimit = EnvironmentDefault.value("GATEHOUSE_ADMIN_CONFIG_BODY_LIMIT", ByteSize("64MiB")!, expected: "a size such as 64MiB") {
        ByteSize($0)
    }

    @Option(help: "Largest total size of request header names and values; larger gets 431 (GATEHOUSE_MAX_HEADER_SIZE).")
    var maxHeaderSize = EnvironmentDefault.value("GATEHOUSE_MAX_HEADER_SIZE", ByteSize("32KiB")!, expected: "a size such as 32KiB") { ByteSize($0) }

    @Option(help: "Largest request body; larger gets 413. 0 for no limit (GATEHOUSE_MAX_BODY_SIZE).")
    var maxBodySize = EnvironmentDefault.value("GATEHOUSE_MAX_BODY_SIZE", ByteSize(bytes: 0), expected: "a size such as 100MiB") { ByteSize($0) }

    @Option(help: "Comma-separated CIDRs whose X-Forwarded-* headers are trusted (GATEHOUSE_TRUSTED_PROXIES).")
    var trustedProxies = EnvironmentDefault.value("GATEHOUSE_TRUSTED_PROXIES", CIDRList(ranges: []), expected: "CIDRs such as 10.0.0.0/8,::1") {
        CIDRList($0)
    }

    @Option(help: "Time a client has to send a request head once it started (GATEHOUSE_HEADER_TIMEOUT).")
    var headerTimeout = EnvironmentDefault.value("GATEHOUSE_HEADER_TIMEOUT", ConfigDuration("10s")!, expected: "a duration such as 10s") {
        ConfigDuration($0)
    }

    @Option(help: "Time an idle keep-alive client connection stays open (GATEHOUSE_IDLE_TIMEOUT).")
    var idleTimeout = EnvironmentDefault.value("GATEHOUSE_IDLE_TIMEOUT", ConfigDuration("60s")!, expected: "a duration such as 60s") {
        ConfigDuration($0)
    }

    @Option(help: "Proxy event loops, one per core by default (GATEHOUSE_WORKERS).")
    var workers = EnvironmentDefault.value("GATEHOUSE_WORKERS", System.coreCount, expected: "a number of event loops") { Int($0) }

    @Option(help: "trace, debug, info, notice, warning, error or critical (GATEHOUSE_LOG_LEVEL).")
    var logLevel = EnvironmentDefault.value("GATEHOUSE_LOG_LEVEL", Logger.Level.info, expected: "a log level") { Logger.Level(rawValue: $0) }

    func validate() throws {
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be from 1 to 256") }
    }

    func run() async throws {
        let logger = LogSetup.logger(level: logLevel)
        let publisher = SnapshotPublisher()
        let store: ConfigStore
        do {
            store = try ConfigStore(path: db, onCommit: { publisher.publish($0) })
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(db)", "error": "\(error)"])
            throw ExitCode(3)
        }
        publisher.publish(store.current.snapshot)
        logger.info("database open", metadata: ["db": "\(db)", "config_version": "\(store.current.snapshot.version)"])

        let active = ActiveConfig()
        let state = DataPlaneState()
        let applier = SnapshotApplier(active: active, state: state, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: workers)
        var proxyOptions = ProxyOptions()
        proxyOptions.maxHeaderBytes = maxHeaderSize.bytes
        proxyOptions.maxBodyBytes = maxBodySize.bytes == 0 ? nil : maxBodySize.bytes
        proxyOptions.trustedProxies = trustedProxies.ranges
        proxyOptions.headerTimeout = headerTimeout.timeAmount
        proxyOptions.idleTimeout = idleTimeout.timeAmount
        let proxy = try await ProxyServer.bind(proxyListen, group: group, active: active, options: proxyOptions, logger: logger)
        let status = try await StatusServer.bind(statusListen, group: group, state: state, logger: logger)

        var options = AdminAPI.Options()
        options.enforcedPolicyTypes = PolicyCatalog.enforcedTypes
        options.configBodyLimit = adminConfigBodyLimit.bytes
        let api = AdminAPI(store: store, options: options, waitForApply: { await state.waitUntilSettled(version: $0) }, logger: logger)
        let admin = Application(
            router: api.router(),
            configuration: .init(address: .hostname(adminListen.host, port: adminListen.port), serverName: nil),
            onServerRunning: { channel in
                logger.info("admin listening", metadata: ["address": "\(channel.localAddress!.display)"])
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: SnapshotFeed(applier: applier, source: publisher.subscribe())),
                    .init(service: proxy),
                    .init(service: status),
                    .init(service: admin),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        try await group.shutdownGracefully()
        logger.info("stopped")
    }
}
