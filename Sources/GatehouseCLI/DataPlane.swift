import ArgumentParser
import Foundation
import GatehouseCluster
import GatehouseModel
import GatehouseProxy
import Logging
import NIOConcurrencyHelpers
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

    @Option(help: "The largest cluster frame taken from the control plane, uncompressed: the size of the config (GATEHOUSE_CLUSTER_MAX_FRAME_SIZE).")
    var clusterMaxFrameSize = EnvironmentDefault.value(
        "GATEHOUSE_CLUSTER_MAX_FRAME_SIZE", ByteSize(bytes: ClusterFrame.defaultMaxMessageBytes), expected: "a size such as 256MiB"
    ) { ByteSize($0) }

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
        guard let address = controlPlaneAddress else {
            throw ValidationError("--control-plane (GATEHOUSE_CONTROL_PLANE) must be http://host:port or https://host:port, got '\(controlPlane)'")
        }
        try cluster.checkTokens(minimumFlagLength: 1)
        if !usesTLS, !address.isLoopback, !cluster.insecure {
            throw ValidationError(
                "--control-plane \(controlPlane) is plain HTTP beyond loopback: the cluster token and every snapshot would cross the network in clear. Use https:// (with --cluster-ca), or pass --cluster-insecure (GATEHOUSE_CLUSTER_INSECURE=1) to accept that"
            )
        }
        guard (1...Int(UInt32.max)).contains(clusterMaxFrameSize.bytes) else {
            throw ValidationError("--cluster-max-frame-size (GATEHOUSE_CLUSTER_MAX_FRAME_SIZE) must be from 1 byte to 4GiB, got \(clusterMaxFrameSize)")
        }
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
        let tls = try usesTLS ? cluster.tls.clientContexts(logger: logger) : nil
        let tokens = try cluster.tokens(logger: logger)
        let client = ControlPlaneClient(
            host: address.host, port: address.port, tokens: tokens, tls: tls, group: group, maxFrameBytes: clusterMaxFrameSize.bytes,
            logger: logger)
        let servedEpoch = NIOLockedValueBox<String?>(nil)
        let embedded = try await EmbeddedDataPlane(
            options: dataPlane, group: group, handoffPath: dataPlane.handoffPath(defaultingTo: cacheDir + "/handoff.sock"), logger: logger,
            extraMetrics: {
                """
                # HELP gatehouse_control_plane_connected 1 while the data plane's stream from its control plane is open.
                # TYPE gatehouse_control_plane_connected gauge
                gatehouse_control_plane_connected \(client.status.connected ? 1 : 0)

                """
            }
        ) { [controlPlane] in
            let status = client.status
            return [
                "node_id": .string(nodeID), "config_epoch": servedEpoch.withLockedValue { $0 }.map(JSONValue.string) ?? .null,
                "control_plane": [
                    "url": .string(controlPlane), "connected": .bool(status.connected), "last_error": status.lastError.map(JSONValue.string) ?? .null,
                ],
            ]
        }
        var served: SignedSnapshot?
        do {
            if let cached = try cache.load(signers: tokens.accepted.map(SnapshotSigner.init(token:)), maxBytes: clusterMaxFrameSize.bytes) {
                let reason = embedded.applier.apply(cached.snapshot)
                if reason == nil {
                    served = cached
                    servedEpoch.withLockedValue { $0 = cached.epoch }
                }
                logger.notice(
                    reason == nil ? "serving the cached snapshot until the control plane answers" : "the cached snapshot cannot be applied",
                    metadata: ["version": "\(cached.snapshot.version)", "epoch": "\(cached.epoch)", "reason": "\(reason ?? "")"])
            }
        } catch {
            logger.error("the cached snapshot is refused; waiting for the control plane", metadata: ["reason": "\(error)"])
        }
        let feed = RemoteSnapshotFeed(
            nodeID: nodeID, client: client, cache: cache, embedded: embedded, servedEpoch: servedEpoch, served: served, logger: logger)
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: embedded.status), .init(service: feed), ] + embedded.proxies.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        embedded.checker.stop()
        let outcome = embedded.drainOutcome
        try await group.shutdownGracefully()
        if outcome == .cut {
            logger.warning("stopped after the drain timeout cut open connections")
            throw ExitCode(2)
        }
        logger.info("stopped")
    }
}
