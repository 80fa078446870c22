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
    /// Closes an admin connection idle this long, or holding a body that was refused unread (a
    /// 413 before the body came): Hummingbird stops reading such a body, and its client would
    /// otherwise hold the connection half closed for good.
    var adminIdleTimeout: TimeAmount = .seconds(30)
    let adminOptions: AdminAPI.Options
    let group: any EventLoopGroup
    let logger: Logger
    let role: NIOLockedValueBox<String>
    /// `--config-dir`: the files that own the config, if any.
    var configDirectory: ConfigDirectory? = nil
    /// `--history-keep`, for the store opened on taking over.
    var historyKeep: Int? = nil
    /// Seals certificate keys (`GATEHOUSE_SECRET_KEY`), for the store opened on taking over.
    var sealer: KeySealer? = nil
    /// Hears of a newest version passed over at start because it cannot be served.
    var onRefused: @Sendable (Snapshot, String) -> Void = { _, _ in }

    func run() async throws {
        var store = self.store
        if store == nil { store = try await becomeWriter() }
        guard let store else { return }
        let api = try AdminAPI(store: store, options: adminOptions, waitForApply: waitForApply, logger: logger)
        let logger = logger
        let admin = Application(
            router: api.router(),
            server: .http1(configuration: .init(idleTimeout: adminIdleTimeout)),
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
        var followed = (version: -1, epoch: String?.none)
        while !lock.tryAcquire() {
            // A writer that started again (a restore from backup) may go on from a lower version.
            let epoch = try? ConfigStore.epoch(path: database)
            if let snapshot = try? ConfigStore.latestSnapshot(path: database), snapshot.version > followed.version || epoch != followed.epoch {
                followed = (snapshot.version, epoch)
                publisher.publish(snapshot, epoch: epoch)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
            if Task.isCancelled || Task.isShuttingDownGracefully { return nil }
        }
        let store = try Self.open(database, historyKeep: historyKeep, sealer: sealer, publisher: publisher, logger: logger, onRefused: onRefused)
        role.withLockedValue { $0 = "writer" }
        return store
    }

    /// Opens and migrates the database and publishes its newest version a data plane can serve.
    /// Every write is checked as a data plane would check it (`ConfigAdmission`) before it is
    /// committed; a database written by a release without those checks may still end in a
    /// version that cannot be served: then the newest one that can is published, the refusal
    /// goes to `onRefused`, and the log says which and why.
    static func open(
        _ database: String, historyKeep: Int? = nil, sealer: KeySealer?, publisher: SnapshotPublisher, logger: Logger,
        onRefused: @Sendable (Snapshot, String) -> Void = { _, _ in }
    ) throws -> ConfigStore {
        let admission = ConfigAdmission(sealer: sealer)
        let store: ConfigStore
        // A new epoch of the history each time this process becomes the writer (docs/cluster-protocol.md).
        let epoch: String
        do {
            store = try ConfigStore(
                path: database, onCommit: { publisher.publish($0) }, admit: { document throws(ConfigError) in try admission.check(document) },
                historyKeep: historyKeep, sealer: sealer)
            epoch = try store.startEpoch()
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(database)", "error": "\(error)"])
            throw OpenFailure(description: "\(error)")
        }
        let latest = store.current.snapshot
        var served = latest
        do {
            try admission.check(latest.document)
        } catch {
            onRefused(latest, error.message)
            if let older = newestServable(before: latest.version, in: store, admission: admission) {
                served = older
                logger.critical(
                    "the newest config version cannot be served; serving the newest one that can. Roll back to it (POST /versions/\(older.version)/rollback) or write a fix",
                    metadata: ["version": "\(latest.version)", "reason": "\(error.message)", "serving_version": "\(older.version)"])
            } else {
                logger.critical(
                    "no config version of this database can be served", metadata: ["version": "\(latest.version)", "reason": "\(error.message)"])
            }
        }
        publisher.publish(served, epoch: epoch)
        logger.info("database open", metadata: ["db": "\(database)", "config_version": "\(latest.version)"])
        return store
    }

    /// Walks the history back from `version` (version 0, the empty config, can always be served).
    private static func newestServable(before version: Int, in store: ConfigStore, admission: ConfigAdmission) -> Snapshot? {
        var candidate = version - 1
        while candidate >= 0 {
            if let snapshot = try? store.snapshot(version: candidate), (try? admission.check(snapshot.document)) != nil { return snapshot }
            candidate -= 1
        }
        return nil
    }
}
