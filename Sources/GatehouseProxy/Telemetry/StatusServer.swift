import Foundation
import GatehouseModel
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The status port: liveness, readiness, what config is served, and Prometheus metrics.
public enum StatusServer {
    /// The status port's own thread, at the lowest priority (nice 19): rendering and sending a
    /// scrape of many routes yields to the proxy loops on a busy core, and readiness is still
    /// answered under full load (`SCHED_IDLE` starved it when the cores were saturated).
    public static func makeGroup() -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        group.next().execute {
            // On Linux the nice value is the thread's own; `who` 0 is the calling thread.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        }
        return group
    }

    public static func bind(
        _ address: ListenAddress, group: any EventLoopGroup, state: DataPlaneState, extra: @escaping @Sendable () -> [String: JSONValue] = { [:] },
        extraMetrics: @escaping @Sendable () -> String = { "" }, logger: Logger
    ) async throws -> Listener {
        let scrape = ScrapeCache { metricsText(state) + extraMetrics() }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A new process during an upgrade answers on the same port beside the old one.
            .serverChannelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StatusHandler(state: state, extra: extra, scrape: scrape))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return Listener(name: "status", channels: [channel], logger: logger)
    }
}

/// Answers one status request at a time from `DataPlaneState`.
final class StatusHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: DataPlaneState
    private let extra: @Sendable () -> [String: JSONValue]
    private let scrape: ScrapeCache
    private var head: HTTPRequestHead?

    init(state: DataPlaneState, extra: @escaping @Sendable () -> [String: JSONValue], scrape: ScrapeCache) {
        self.state = state
        self.extra = extra
        self.scrape = scrape
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let (status, contentType, body, gzipped) = respond(to: head)
            var response = HTTPResponseHead(version: head.version, status: status)
            response.headers.add(name: "content-type", value: contentType)
            if gzipped { response.headers.add(name: "content-encoding", value: "gzip") }
            if head.uri.hasPrefix("/metrics") { response.headers.add(name: "vary", value: "accept-encoding") }
            response.headers.add(name: "content-length", value: String(body.readableBytes))
            response.headers.add(name: "cache-control", value: "no-store")
            if !head.isKeepAlive { response.headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }

    private func respond(to head: HTTPRequestHead) -> (HTTPResponseStatus, String, ByteBuffer, gzipped: Bool) {
        if head.method == .GET || head.method == .HEAD, head.uri.split(separator: "?", maxSplits: 1).first == "/metrics" {
            let (body, gzipped) = scrape.document(gzip: Self.acceptsGzip(head.headers))
            return (.ok, "text/plain; version=0.0.4", body, gzipped)
        }
        let (status, contentType, body) = answer(head)
        return (status, contentType, ByteBuffer(bytes: body), false)
    }

    /// Whether `Accept-Encoding` lists gzip (or `*`) with a weight above zero (RFC 9110 §12.5.3).
    static func acceptsGzip(_ headers: HTTPHeaders) -> Bool {
        var gzip: Bool?
        var any: Bool?
        for value in headers[canonicalForm: "accept-encoding"] {
            let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first else { continue }
            // A weight that is not 0 to 1 makes the entry unreadable: it accepts nothing.
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.map { Double($0.dropFirst(2)).flatMap { (0...1).contains($0) ? $0 : nil } ?? 0 } ?? 1
            if coding == "gzip" || coding == "x-gzip" { gzip = weight > 0 } else if coding == "*" { any = weight > 0 }
        }
        return gzip ?? any ?? false
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, "application/json", error("method_not_allowed", "the status port answers GET only"))
        }
        let current = state.current
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch path {
        case "/status/live":
            return (.ok, "application/json", JSONValue.object(["status": "live"]).prettyBytes)
        case "/status/ready":
            if state.isReady {
                return (.ok, "application/json", JSONValue.object(["status": "ready", "config_version": .int(current.version ?? 0)]).prettyBytes)
            }
            let reason = current.draining ? "draining" : "no config applied yet"
            return (.serviceUnavailable, "application/json", JSONValue.object(["status": "not_ready", "reason": .string(reason)]).prettyBytes)
        case "/status":
            var fields: [String: JSONValue] = [
                "ready": .bool(state.isReady),
                "draining": .bool(current.draining),
                "config_version": current.version.map(JSONValue.int) ?? .null,
                "config_hash": current.hash.map(JSONValue.string) ?? .null,
                "routes": .int(current.routes),
                "uptime_seconds": .int(Int(Date().timeIntervalSince(state.startedAt))),
                "last_rejection": current.lastRejection.map { rejection in
                    ["version": .int(rejection.version), "hash": .string(rejection.hash), "reason": .string(rejection.reason)]
                } ?? .null,
            ]
            fields.merge(extra()) { _, new in new }
            return (.ok, "application/json", JSONValue.object(fields).prettyBytes)
        default:
            return (.notFound, "application/json", error("not_found", "no status endpoint at \(path)"))
        }
    }

    private func error(_ code: String, _ message: String) -> [UInt8] {
        JSONValue.object(["error": ["code": .string(code), "message": .string(message)]]).prettyBytes
    }
}

extension StatusServer {
    /// What the data plane serves, its readiness, and the build.
    static func metricsText(_ state: DataPlaneState) -> String {
        let current = state.current
        var out = PrometheusText()
        out.family("gatehouse_build_info", "gauge", "The running build: 1, with the release as a label.")
        out.sample("gatehouse_build_info", [("version", GatehouseVersion.current)], 1)
        out.family("gatehouse_config_version", "gauge", "Version of the config this data plane serves.")
        out.sample("gatehouse_config_version", current.version ?? 0)
        out.family("gatehouse_config_info", "gauge", "The served config: 1, with its version and hash as labels.")
        if let version = current.version, let hash = current.hash {
            out.sample("gatehouse_config_info", [("version", String(version)), ("hash", hash)], 1)
        }
        out.family("gatehouse_config_applied_timestamp_seconds", "gauge", "When the served config was applied, in seconds since the Unix epoch (its age: time() minus this).")
        out.sample("gatehouse_config_applied_timestamp_seconds", current.appliedAt?.timeIntervalSince1970 ?? 0)
        out.family("gatehouse_config_apply_duration_seconds", "gauge", "How long compiling and swapping in the served config took.")
        out.sample("gatehouse_config_apply_duration_seconds", current.applySeconds)
        out.family("gatehouse_config_applies_total", "counter", "Snapshots applied since the process started.")
        out.sample("gatehouse_config_applies_total", current.applied)
        out.family("gatehouse_config_rejections_total", "counter", "Snapshots refused (the last good config kept serving) since the process started.")
        out.sample("gatehouse_config_rejections_total", current.rejected)
        out.family("gatehouse_routes", "gauge", "Routes in the served config.")
        out.sample("gatehouse_routes", current.routes)
        out.family("gatehouse_ready", "gauge", "1 when the data plane is ready to serve.")
        out.sample("gatehouse_ready", state.isReady ? 1 : 0)
        out.family("gatehouse_uptime_seconds", "gauge", "Seconds since the process started.")
        out.sample("gatehouse_uptime_seconds", Int(Date().timeIntervalSince(state.startedAt)))
        return out.text + ProcessMetrics.prometheusText
    }
}
