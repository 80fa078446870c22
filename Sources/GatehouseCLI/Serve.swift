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

    @OptionGroup var controlPlane: ControlPlaneOptions

    @OptionGroup var dataPlane: DataPlaneOptions

    func run() async throws {
        let logger = LogSetup.logger(level: dataPlane.logLevel)
        var adminAuth = try controlPlane.adminAuthSettings(logger: logger)
        let publisher = SnapshotPublisher()
        let lock: WriterLock
        do {
            lock = try WriterLock(databasePath: controlPlane.db)
        } catch {
            logger.critical("cannot open the database", metadata: ["db": "\(controlPlane.db)", "error": "\(error)"])
            throw ExitCode(3)
        }
        // The writer opens the database before binding, so a database it cannot use stops it
        // at once; a standby opens it when the writer is gone.
        var store: ConfigStore?
        // A newest version that cannot be served, found before the data plane exists.
        let refusedAtStart = NIOLockedValueBox<(Snapshot, String)?>(nil)
        if lock.tryAcquire() {
            do {
                store = try ControlPlaneService.open(
                    controlPlane.db, historyKeep: controlPlane.historyRetention, sealer: controlPlane.sealer, publisher: publisher, logger: logger) {
                    snapshot, reason in
                    refusedAtStart.withLockedValue { $0 = (snapshot, reason) }
                }
            } catch {
                throw ExitCode(3)
            }
        }
        adminAuth = try controlPlane.checkedAdminAuth(adminAuth, store: store, logger: logger)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: dataPlane.workers)
        let outcome: Listener.DrainOutcome?
        do {
            outcome = try await serve(
                store: store, lock: lock, publisher: publisher, group: group, refusedAtStart: refusedAtStart.withLockedValue { $0 }, adminAuth: adminAuth,
                logger: logger)
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
        store: ConfigStore?, lock: WriterLock, publisher: SnapshotPublisher, group: MultiThreadedEventLoopGroup,
        refusedAtStart: (Snapshot, String)?, adminAuth: AdminAuth.Settings, logger: Logger
    ) async throws -> Listener.DrainOutcome? {
        let role = NIOLockedValueBox(store == nil ? "standby" : "writer")
        let embedded = try await EmbeddedDataPlane(
            options: dataPlane, group: group, handoffPath: dataPlane.handoffPath(defaultingTo: controlPlane.db + ".handoff"), logger: logger
        ) {
            ["control_plane": .string(role.withLockedValue { $0 })]
        }
        let state = embedded.state
        if let (snapshot, reason) = refusedAtStart { state.rejected(snapshot, reason: reason) }
        var adminOptions = controlPlane.adminOptions
        adminOptions.auth = adminAuth
        adminOptions.dataPlanes = { latest in
            let current = state.current
            let served = current.version ?? 0
            let status =
                current.lastRejection.map { $0.version > served } == true ? "rejected" : served < latest ? "behind" : "in_sync"
            return [
                [
                    "id": "embedded", "hostname": .string(ProcessInfo.processInfo.hostName), "gatehouse_version": .string(GatehouseVersion.current),
                    "config_version": current.version.map(JSONValue.int) ?? .null, "config_hash": current.hash.map(JSONValue.string) ?? .null,
                    "status": .string(status), "connected": true, "behind": .int(max(0, latest - served)),
                    "error": current.lastRejection.map { .string("version \($0.version): \($0.reason)") } ?? .null,
                    "policy_types": .array(PolicyCatalog.enforcedTypes.map(\.rawValue).sorted().map(JSONValue.string)),
                    "last_seen": .int(Int(Date().timeIntervalSince1970)),
                ]
            ]
        }
        let controlPlaneService = ControlPlaneService(
            database: controlPlane.db, lock: lock, store: store, publisher: publisher, waitForApply: { await state.waitUntilSettled(version: $0) },
            adminListen: controlPlane.adminListen, adminIdleTimeout: controlPlane.adminIdleTimeout.timeAmount,
            adminOptions: adminOptions, group: group, logger: logger, role: role,
            configDirectory: controlPlane.configDirectory(logger: logger), historyKeep: controlPlane.historyRetention, sealer: controlPlane.sealer,
            onRefused: { state.rejected($0, reason: $1) }
        )
        // Graceful shutdown runs in reverse order: the proxy drains first, while the status port
        // still reports it; the control plane and the snapshot feed stop after.
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: embedded.status),
                    .init(service: SnapshotFeed(applier: embedded.applier, source: publisher.subscribe())),
                    .init(service: controlPlaneService),
                ] + embedded.proxies.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        embedded.checker.stop()
        return embedded.drainOutcome
    }
}
