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

/// The control plane of `serve` and `control-plane`: the database's writer and the admin API. When another
/// process holds the database's writer lock (the old process during a binary upgrade), it waits
/// as a standby, publishing the writer's committed versions read-only so the embedded data plane
/// keeps up, and becomes the writer once the lock is free.
struct ControlPlaneService: Service {
    struct OpenFailure: Error, CustomStringConvertible {
        let description: String
    }

    let database: String
    let lock: WriterLock
    /// Already open when this process took the lock at start.
    let store: ConfigStore?
    let publisher: SnapshotPublisher
    /// Returns once a committed version is live (for `serve`, applied by its data plane).
    let waitForApply: @Sendable (Int) async -> Void
    let adminListen: ListenAddress
    let adminOptions: AdminAPI.Options
    let group: any EventLoopGroup
    let logger: Logger
    let role: NIOLockedValueBox<String>
    /// `--config-dir`: the files that own the config, if any.
    var configDirectory: ConfigDirectory? = nil

    func run() async throws {
        var store = self.store
        if store == nil { store = try await becomeWriter() }
        guard let store else { return }
        let api = AdminAPI(store: store, options: adminOptions, waitForApply: waitForApply, logger: logger)
        let logger = logger
        let admin = Application(
            router: api.router(),
            configuration: .init(address: .hostname(adminListen.host, port: adminListen.port), serverName: nil),
            onServerRunning: { channel in
                logger.info("admin listening", metadata: ["address": "\(channel.localAddress!.display)"])
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        guard let configDirectory else { return try await admin.run() }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await configDirectory.run(store) }
            try await admin.run()
        }
    }

    /// Waits for the writer lock, following the writer's versions meanwhile; nil on shutdown.
    private func becomeWriter() async throws -> ConfigStore? {
        role.withLockedValue { $0 = "standby" }
        logger.notice(
            "another gatehouse process is this database's writer; serving its committed versions until it exits", metadata: ["db": "\(database)"])
        var followed = -1
        while !lock.tryAcquire() {
            if let snapshot = try? ConfigStore.latestSnapshot(path: database), snapshot.version > followed {
                followed = snapshot.version
                publisher.publish(snapshot)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
            if Task.isCancelled || Task.isShuttingDownGracefully { return nil }
        }
        let store = try Self.open(database, publisher: publisher, logger: logger)
        role.withLockedValue { $0 = "writer" }
        return store
    }

    /// Opens and migrates the database and publishes its current snapshot.
    static func open(_ database: String, publisher: SnapshotPublisher, logger: Logger) throws -> ConfigStore {
        let store: ConfigStore
        do {
            store = try ConfigStore(path: database, onCommit: { publisher.publish($0) })
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(database)", "error": "\(error)"])
            throw OpenFailure(description: "\(error)")
        }
        publisher.publish(store.current.snapshot)
        logger.info("database open", metadata: ["db": "\(database)", "config_version": "\(store.current.snapshot.version)"])
        return store
    }
}
