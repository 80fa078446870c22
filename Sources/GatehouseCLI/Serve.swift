import ArgumentParser
import Foundation
import GatehouseAdmin
import GatehouseCluster
import GatehouseModel
import GatehouseProxy
import GatehouseStore
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the control plane and one embedded data plane in one process.",
        discussion: """
            Every flag can also be set by the environment variable named in its help. Port 0 picks \
            a free port; the chosen ports are logged. SIGTERM or SIGINT drains the proxy and stops \
            the process (exit 0; 2 when the drain timeout cut connections). A second process on the \
            same database waits as a standby until the first exits: see docs/operations.md.
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

    @Option(
        help:
            "Comma-separated name servers (ip or ip:port) for upstream targets given as DNS names; default: /etc/resolv.conf's (GATEHOUSE_DNS_RESOLVER)."
    )
    var dnsResolver = EnvironmentDefault.value(
        "GATEHOUSE_DNS_RESOLVER", NameServerList(servers: []), expected: "name servers such as 10.0.0.2,127.0.0.1:8600"
    ) {
        NameServerList($0)
    }

    @Option(help: "Time a client has to send a request head once it started (GATEHOUSE_HEADER_TIMEOUT).")
    var headerTimeout = EnvironmentDefault.value("GATEHOUSE_HEADER_TIMEOUT", ConfigDuration("10s")!, expected: "a duration such as 10s") {
        ConfigDuration($0)
    }

    @Option(help: "Time an idle keep-alive client connection stays open (GATEHOUSE_IDLE_TIMEOUT).")
    var idleTimeout = EnvironmentDefault.value("GATEHOUSE_IDLE_TIMEOUT", ConfigDuration("60s")!, expected: "a duration such as 60s") {
        ConfigDuration($0)
    }

    @Option(help: "On SIGTERM, how long open requests may take to finish before they are cut (GATEHOUSE_DRAIN_TIMEOUT).")
    var drainTimeout = EnvironmentDefault.value("GATEHOUSE_DRAIN_TIMEOUT", ConfigDuration("30s")!, expected: "a duration such as 30s") {
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
        let lock: WriterLock
        do {
            lock = try WriterLock(databasePath: db)
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(db)", "error": "\(error)"])
            throw ExitCode(3)
        }
        // The writer opens the database before binding, so a database it cannot use stops it
        // at once; a standby opens it when the writer is gone.
        var store: ConfigStore?
        if lock.tryAcquire() {
            do {
                store = try ControlPlaneService.open(db, publisher: publisher, logger: logger)
            } catch {
                throw ExitCode(3)
            }
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: workers)
        let outcome: Listener.DrainOutcome?
        do {
            outcome = try await serve(store: store, lock: lock, publisher: publisher, group: group, logger: logger)
        } catch is ControlPlaneService.OpenFailure {
            try? await group.shutdownGracefully()
            throw ExitCode(3)
        }
        // Everything bound to the event loops is released by now; only then are they stopped.
        try await group.shutdownGracefully()
        if outcome == .cut {
            logger.warning("stopped after the drain timeout cut open connections")
            throw ExitCode(2)
        }
        logger.info("stopped")
    }

    /// Binds the listeners and runs every service until a graceful shutdown completes.
    private func serve(
        store: ConfigStore?, lock: WriterLock, publisher: SnapshotPublisher, group: MultiThreadedEventLoopGroup, logger: Logger
    ) async throws -> Listener.DrainOutcome? {
        let active = ActiveConfig()
        let state = DataPlaneState()
        let health = TargetHealth()
        let checker = ActiveHealthChecker(group: group, health: health, logger: logger)
        let discovery = TargetDiscovery(servers: dnsResolver.servers, group: group, logger: logger)
        let applier = SnapshotApplier(active: active, state: state, checker: checker, discovery: discovery, logger: logger)
        var proxyOptions = ProxyOptions()
        proxyOptions.maxHeaderBytes = maxHeaderSize.bytes
        proxyOptions.maxBodyBytes = maxBodySize.bytes == 0 ? nil : maxBodySize.bytes
        proxyOptions.trustedProxies = trustedProxies.ranges
        proxyOptions.headerTimeout = headerTimeout.timeAmount
        proxyOptions.idleTimeout = idleTimeout.timeAmount
        proxyOptions.drainTimeout = drainTimeout.timeAmount
        let role = NIOLockedValueBox(store == nil ? "standby" : "writer")
        let options = proxyOptions
        let proxy = ProxyWhenReady(state: state) { [proxyListen] in
            try await ProxyServer.bind(proxyListen, group: group, active: active, options: options, state: state, health: health, logger: logger)
        }
        let status = try await StatusServer.bind(
            statusListen, group: group, state: state,
            extra: {
                [
                    "pid": .int(Int(ProcessInfo.processInfo.processIdentifier)), "control_plane": .string(role.withLockedValue { $0 }),
                    "ejected_targets": .array(health.ejected().map(JSONValue.string)),
                    "upstreams": active.load()?.endpointsByUpstream ?? [:],
                    "dns_failed_lookups": .int(discovery.failedLookups),
                ]
            },
            logger: logger
        )

        var adminOptions = AdminAPI.Options()
        adminOptions.enforcedPolicyTypes = PolicyCatalog.enforcedTypes
        adminOptions.configBodyLimit = adminConfigBodyLimit.bytes
        let controlPlane = ControlPlaneService(
            database: db, lock: lock, store: store, publisher: publisher, state: state, adminListen: adminListen,
            adminOptions: adminOptions, group: group, logger: logger, role: role
        )
        // Graceful shutdown runs in reverse order: the proxy drains first, while the status port
        // still reports it; the control plane and the snapshot feed stop after.
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: status),
                    .init(service: SnapshotFeed(applier: applier, source: publisher.subscribe())),
                    .init(service: controlPlane),
                    .init(service: proxy),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        checker.stop()
        return proxy.drainOutcome
    }
}
