import ArgumentParser
import Foundation
import GatehouseCluster
import GatehouseModel
import GatehouseProxy
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import UnixSignals

struct DataPlane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-plane",
        abstract: "Run a data plane fed by a remote control plane (`gatehouse control-plane`).",
        discussion: """
            Every flag can also be set by the environment variable named in its help. The data plane \
            keeps its last good snapshot in --cache-dir and serves it when started while the control \
            plane is unreachable. See docs/cluster-protocol.md.
            """
    )

    @Option(help: "The control plane's cluster endpoint, http://host:port or https://host:port (GATEHOUSE_CONTROL_PLANE).")
    var controlPlane = EnvironmentDefault.value("GATEHOUSE_CONTROL_PLANE", "")

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "Where the last good snapshot and this node's id are kept (GATEHOUSE_CACHE_DIR).")
    var cacheDir = EnvironmentDefault.value("GATEHOUSE_CACHE_DIR", "./gatehouse-dp-cache")

    @OptionGroup var dataPlane: DataPlaneOptions

    var usesTLS: Bool { controlPlane.hasPrefix("https://") }

    /// `http(s)://host:port`, as host and port.
    var controlPlaneAddress: ListenAddress? {
        guard let scheme = ["http://", "https://"].first(where: controlPlane.hasPrefix) else { return nil }
        let rest = controlPlane.dropFirst(scheme.count).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        guard let address = ListenAddress(rest), address.port > 0 else { return nil }
        return address
    }

    func validate() throws {
        guard controlPlaneAddress != nil else {
            throw ValidationError("--control-plane (GATEHOUSE_CONTROL_PLANE) must be http://host:port or https://host:port, got '\(controlPlane)'")
        }
        guard !cluster.clusterToken.isEmpty else { throw ValidationError("--cluster-token (GATEHOUSE_CLUSTER_TOKEN) must be set") }
        if !usesTLS, !cluster.clusterCA.isEmpty || !cluster.clusterCert.isEmpty {
            throw ValidationError("--cluster-ca and --cluster-cert apply to an https:// control plane")
        }
        do {
            _ = try cluster.tls.clientConfiguration()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let logger = LogSetup.logger(level: dataPlane.logLevel)
        let cache = SnapshotCache(directory: cacheDir)
        let nodeID: String
        do {
            nodeID = try cache.nodeID()
        } catch {
            logger.critical("cannot use the cache directory", metadata: ["cache_dir": "\(cacheDir)", "error": "\(error)"])
            throw ExitCode(3)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: dataPlane.workers)
        let address = controlPlaneAddress!
        let tls = try usesTLS ? NIOSSLContext(configuration: cluster.tls.clientConfiguration()) : nil
        let client = ControlPlaneClient(host: address.host, port: address.port, token: cluster.clusterToken, tls: tls, group: group, logger: logger)
        let embedded = try await EmbeddedDataPlane(options: dataPlane, group: group, logger: logger) { [controlPlane] in
            let status = client.status
            return [
                "node_id": .string(nodeID),
                "control_plane": [
                    "url": .string(controlPlane), "connected": .bool(status.connected), "last_error": status.lastError.map(JSONValue.string) ?? .null,
                ],
            ]
        }
        do {
            if let cached = try cache.load() {
                let reason = embedded.applier.apply(cached)
                logger.notice(
                    reason == nil ? "serving the cached snapshot until the control plane answers" : "the cached snapshot cannot be applied",
                    metadata: ["version": "\(cached.version)", "reason": "\(reason ?? "")"])
            }
        } catch {
            logger.error("the cached snapshot is refused; waiting for the control plane", metadata: ["reason": "\(error)"])
        }
        let feed = RemoteSnapshotFeed(nodeID: nodeID, client: client, cache: cache, embedded: embedded, logger: logger)
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: embedded.status), .init(service: feed), .init(service: embedded.proxy)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        embedded.checker.stop()
        let outcome = embedded.proxy.drainOutcome
        try await group.shutdownGracefully()
        if outcome == .cut {
            logger.warning("stopped after the drain timeout cut open connections")
            throw ExitCode(2)
        }
        logger.info("stopped")
    }
}

/// Snapshots from the control plane into the data plane: each applied one is written to the
/// cache, then acknowledged; a refused one is reported with its reason. A heartbeat report goes
/// out every heartbeat interval.
private struct RemoteSnapshotFeed: Service {
    let nodeID: String
    let client: ControlPlaneClient
    let cache: SnapshotCache
    let embedded: EmbeddedDataPlane
    let logger: Logger

    func run() async {
        let (snapshots, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let (nodeID, client, cache, state, logger) = (nodeID, client, cache, embedded.state, logger)
        let hello: @Sendable () -> ClusterProtocol.Hello = {
            let current = state.current
            return ClusterProtocol.Hello(
                nodeID: nodeID, hostname: ProcessInfo.processInfo.hostName, gatehouseVersion: GatehouseVersion.current,
                policyTypes: PolicyCatalog.enforcedTypes.map(\.rawValue).sorted(), configVersion: current.version, configHash: current.hash)
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run(hello: hello) { continuation.yield($0) } }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(ClusterProtocol.heartbeatSeconds))
                        let current = state.current
                        await client.report(.init(nodeID: nodeID, kind: .heartbeat, version: current.version, hash: current.hash))
                    }
                }
                await embedded.applier.run(snapshots) { snapshot, reason in
                    if let reason {
                        await client.report(.init(nodeID: nodeID, kind: .rejected, version: snapshot.version, hash: snapshot.hash, reason: reason))
                        return
                    }
                    do {
                        try cache.store(snapshot)
                    } catch {
                        logger.error("cannot write the snapshot cache", metadata: ["error": "\(error)"])
                    }
                    let current = state.current
                    await client.report(.init(nodeID: nodeID, kind: .applied, version: current.version, hash: current.hash))
                }
            }
        }
    }
}
