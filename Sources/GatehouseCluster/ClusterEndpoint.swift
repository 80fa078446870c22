import Crypto
import Foundation
import GatehouseModel
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The control plane's side of the cluster protocol (docs/cluster-protocol.md): one long-lived
/// stream per data plane carrying snapshots and heartbeats, and a reports endpoint for ACK, NACK
/// and heartbeats from the data planes. Every request must carry the cluster token; every
/// snapshot goes out signed (`SnapshotSigner`) with the epoch it was published under. A data plane
/// that takes deltas and holds a version the `DeltaLog` reaches back to gets a signed delta from
/// it instead of the whole snapshot.
public final class ClusterEndpoint: Sendable {
    private let publisher: SnapshotPublisher
    public let registry: DataPlaneRegistry
    private let tokens: ClusterTokens
    private let heartbeat: Duration
    private let logger: Logger
    /// The newest snapshot's frame, built once and sent to every data plane (signed with one
    /// token: during a rotation, streams of the other build their own).
    private let frame = Mutex<(version: Int, hash: String, epoch: String, token: String, bytes: ByteBuffer)?>(nil)
    private let deltas: DeltaLog
    /// Delta frames to the newest version, by base: built once whatever the number of data planes.
    private let deltaFrames = Mutex<(version: Int, hash: String, epoch: String, token: String, byBase: [String: ByteBuffer])?>(nil)
    private let streams = Mutex<(next: Int, open: [Int: AsyncStream<Event>.Continuation], stopped: Bool)>((0, [:], false))

    private enum Event: Sendable {
        /// A newer snapshot is waiting in the stream's `pending` slot.
        case snapshot
        case heartbeat
    }

    public convenience init(
        publisher: SnapshotPublisher, registry: DataPlaneRegistry, token: String, heartbeat: Duration = .seconds(ClusterProtocol.heartbeatSeconds),
        logger: Logger
    ) {
        self.init(publisher: publisher, registry: registry, tokens: ClusterTokens(token), heartbeat: heartbeat, logger: logger)
    }

    /// - Parameter tokens: those a data plane may present; a stream whose token is no longer
    ///   among them is closed at its next heartbeat.
    public init(
        publisher: SnapshotPublisher, registry: DataPlaneRegistry, tokens: ClusterTokens, heartbeat: Duration = .seconds(ClusterProtocol.heartbeatSeconds),
        logger: Logger
    ) {
        let deltas = DeltaLog()
        self.deltas = deltas
        publisher.observe { deltas.record($0) }
        self.publisher = publisher
        self.registry = registry
        self.tokens = tokens
        self.heartbeat = heartbeat
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get(RouterPath(ClusterProtocol.streamPath)) { request, _ in try self.stream(request) }
        router.post(RouterPath(ClusterProtocol.reportsPath)) { request, _ in try await self.report(request) }
        return router
    }

    /// Ends every open stream (on shutdown), so data planes reconnect elsewhere or later.
    public func stop() {
        let open = streams.withLock { streams in
            streams.stopped = true
            defer { streams.open = [:] }
            return Array(streams.open.values)
        }
        for continuation in open { continuation.finish() }
    }

    /// The accepted token the request carries, if any.
    private func authorized(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.hasPrefix("Bearer ") else { return nil }
        return tokens.matching(value.dropFirst(7))
    }

    private func refusal(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let body = JSONValue.object(["error": ["code": .string(code), "message": .string(message)]]).canonicalBytes
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    private func stream(_ request: Request) throws -> Response {
        guard let token = authorized(request) else {
            logger.warning("cluster stream refused: wrong or missing token")
            return refusal(.unauthorized, "unauthorized", "the cluster token is wrong or missing")
        }
        let hello: ClusterProtocol.Hello
        do {
            hello = try ClusterProtocol.Hello(header: { name in request.headers[HTTPField.Name(name)!] })
        } catch {
            logger.warning("cluster stream refused: a malformed hello", metadata: ["reason": "\(error)"])
            return refusal(.badRequest, "bad_hello", error.description)
        }
        guard hello.protocolVersion == ClusterProtocol.version else {
            let reason = "data plane speaks cluster protocol \(hello.protocolVersion); this control plane speaks \(ClusterProtocol.version)"
            registry.connected(hello, incompatible: reason)
            logger.warning("incompatible data plane refused", metadata: ["node": "\(hello.nodeID)", "reason": "\(reason)"])
            return refusal(.conflict, "incompatible", reason)
        }
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(8))
        let id: Int? = streams.withLock { streams in
            guard !streams.stopped else { return nil }
            defer { streams.next += 1 }
            streams.open[streams.next] = continuation
            return streams.next
        }
        guard let id else { return refusal(.serviceUnavailable, "stopping", "the control plane is stopping") }
        registry.connected(hello)
        logger.info("data plane connected", metadata: ["node": "\(hello.nodeID)", "hostname": "\(hello.hostname)"])
        let publisher = self.publisher
        let heartbeat = self.heartbeat
        let signer = SnapshotSigner(token: token)
        // Only the newest snapshot waits: a version the writer has not reached yet is skipped.
        let pending = NIOLockedValueBox<SnapshotPublisher.Published?>(nil)
        let body = ResponseBody { writer in
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await published in publisher.subscribeWithEpochs() {
                        pending.withLockedValue { $0 = published }
                        continuation.yield(.snapshot)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: heartbeat)
                        continuation.yield(.heartbeat)
                    }
                }
                defer {
                    group.cancelAll()
                    self.streams.withLock { _ = $0.open.removeValue(forKey: id) }
                    self.registry.disconnected(hello.nodeID)
                    self.logger.info("data plane disconnected", metadata: ["node": "\(hello.nodeID)"])
                }
                // What the data plane serves needs no frame: the same version and hash of the same epoch.
                var sent = (version: hello.configVersion, hash: hello.configHash, epoch: hello.configEpoch)
                var latest: Int?
                events: for await event in events {
                    switch event {
                    case .snapshot:
                        guard
                            let published = pending.withLockedValue({ slot in
                                defer { slot = nil }; return slot
                            })
                        else { continue }
                        let snapshot = published.snapshot
                        latest = snapshot.version
                        if sent.version == snapshot.version, sent.hash == snapshot.hash, sent.epoch == published.epoch { continue }
                        if hello.acceptsDeltas, let version = sent.version, let hash = sent.hash, sent.epoch == published.epoch,
                            version < snapshot.version, let delta = self.deltaFrame(from: (version, hash), to: published, token: token, signer: signer)
                        {
                            try await writer.write(delta)
                        } else {
                            try await writer.write(self.frame(for: published, token: token, signer: signer))
                        }
                        sent = (snapshot.version, snapshot.hash, published.epoch)
                    case .heartbeat:
                        // A token rotated out: the data plane comes back with the new one, or not at all.
                        guard self.tokens.accepts(token) else {
                            self.logger.notice("closing a data plane's stream: its cluster token is no longer accepted", metadata: ["node": "\(hello.nodeID)"])
                            break events
                        }
                        try await writer.write(ByteBuffer(bytes: ClusterProtocol.heartbeatFrame(version: latest)))
                    }
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/vnd.gatehouse.cluster-frames"], body: body)
    }

    /// The snapshot's frame, signed and compressed once per version whatever the number of data planes.
    private func frame(for published: SnapshotPublisher.Published, token: String, signer: SnapshotSigner) -> ByteBuffer {
        let (snapshot, epoch) = (published.snapshot, published.epoch)
        return frame.withLock { cached in
            if let cached, cached.version == snapshot.version, cached.hash == snapshot.hash, cached.epoch == epoch, cached.token == token {
                return cached.bytes
            }
            let bytes = ByteBuffer(bytes: ClusterProtocol.snapshotFrame(SignedSnapshot(snapshot, epoch: epoch, signer: signer)))
            cached = (snapshot.version, snapshot.hash, epoch, token, bytes)
            return bytes
        }
    }

    /// The signed delta frame from `base` to the published snapshot; nil when the log has none.
    private func deltaFrame(
        from base: (version: Int, hash: String), to published: SnapshotPublisher.Published, token: String, signer: SnapshotSigner
    ) -> ByteBuffer? {
        let (snapshot, epoch) = (published.snapshot, published.epoch)
        let key = "\(base.version) \(base.hash)"
        let cached = deltaFrames.withLock { cached -> ByteBuffer? in
            guard let cached, cached.version == snapshot.version, cached.hash == snapshot.hash, cached.epoch == epoch, cached.token == token else { return nil }
            return cached.byBase[key]
        }
        if let cached { return cached }
        guard let delta = deltas.delta(from: base, to: snapshot, epoch: epoch) else { return nil }
        let bytes = ByteBuffer(bytes: ClusterProtocol.deltaFrame(SignedDelta(delta, from: base, to: snapshot, epoch: epoch, signer: signer)))
        deltaFrames.withLock { cached in
            if let current = cached, current.version == snapshot.version, current.hash == snapshot.hash, current.epoch == epoch, current.token == token {
                cached?.byBase[key] = bytes
            } else {
                cached = (snapshot.version, snapshot.hash, epoch, token, [key: bytes])
            }
        }
        return bytes
    }

    private func report(_ request: Request) async throws -> Response {
        guard authorized(request) != nil else { return refusal(.unauthorized, "unauthorized", "the cluster token is wrong or missing") }
        var request = request
        let buffer = try await request.collectBody(upTo: 64 << 10)
        let report: ClusterProtocol.Report
        do {
            report = try ClusterProtocol.Report(try JSONValue.parse(buffer.readableBytesView))
        } catch {
            logger.warning("cluster report refused", metadata: ["reason": "\(error)"])
            return refusal(.badRequest, "bad_report", "\(error)")
        }
        guard registry.record(report) else {
            return refusal(.notFound, "unknown_node", "node '\(report.nodeID)' has not opened a stream")
        }
        if report.kind == .rejected {
            logger.error(
                "a data plane rejected a snapshot",
                metadata: ["node": "\(report.nodeID)", "version": "\(report.version ?? -1)", "reason": "\(report.reason ?? "")"])
        }
        return Response(status: .noContent)
    }
}
