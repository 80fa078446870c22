import Foundation
import GatehouseModel
import GatehouseTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import GatehouseCluster

/// A real `gatehouse data-plane` process pointed at something that is not a control plane: a
/// loopback server answering the stream request with the bytes a test chooses.
@Suite struct ForgedControlPlaneTests {
    static let token = "test-cluster-token-0123456789"

    @Test func aHugeFrameIsRefusedNamingTheLimitWithoutTheAllocation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The probe's frame: 500 KB of compressed bytes announcing 512 MiB.
        let compressed = 500_000
        let frame = ClusterFrameTests.header(compressed: compressed, original: 512 << 20) + [UInt8](repeating: 0x5A, count: compressed)
        let forged = try await ForgedControlPlane.start(frames: frame)
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(forged.port)", token: Self.token, cacheDir: dir.file("dp"))
        defer { plane.stop() }
        let pid = try #require(try await httpRequest(port: plane.ports.status, .GET, "/status").json["pid"]?.intValue)
        let before = Self.peakResidentKiB(pid) / 1024
        // Every reconnect gets the same frame; the peak resident size stays far below what it announces.
        try await waitUntil("three streams", deadline: .seconds(30)) { forged.streams >= 3 }
        try await waitUntil("the third refused") { try await Self.lastError(plane.ports.status)?.isEmpty == false && forged.streams >= 3 }
        let peakMiB = Self.peakResidentKiB(pid) / 1024
        print("forged huge frame: data plane peak RSS \(before) MiB before, \(peakMiB) MiB after \(forged.streams) streams")
        #expect(peakMiB > 0)
        #expect(peakMiB < 200, "peak RSS \(peakMiB) MiB")
        let error = try await Self.lastError(plane.ports.status)
        #expect(error?.contains("over this data plane's limit of 67108864 (--cluster-max-frame-size") == true, "\(error ?? "")")
        #expect(try await httpRequest(port: plane.ports.status, .GET, "/status").json["ready"] == false)
    }

    @Test func aSnapshotSignedWithAnotherTokenIsRefusedAndOneSignedWithTheClustersIsServed() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let snapshot = try ClusterFrameTests.snapshot(version: 1)
        let impostor = SignedSnapshot(snapshot, epoch: ClusterFrameTests.epoch, signer: SnapshotSigner(token: "the-impostors-own-token-0123"))
        let forged = try await ForgedControlPlane.start(frames: ClusterProtocol.snapshotFrame(impostor))
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(forged.port)", token: Self.token, cacheDir: dir.file("forged"))
        defer { plane.stop() }
        try await waitUntil("the refusal") {
            let error = try await httpRequest(port: plane.ports.status, .GET, "/status").json["control_plane"]?["last_error"]?.stringValue
            return error?.contains("no valid signature") == true
        }
        let status = try await httpRequest(port: plane.ports.status, .GET, "/status").json
        #expect(status["ready"] == false && status["config_version"] == .null)
        #expect(!FileManager.default.fileExists(atPath: dir.file("forged/snapshot.json")))

        // The same server, signing with the cluster's token: served, so the refusal above was the signature's.
        let genuine = try await ForgedControlPlane.start(frames: ClusterProtocol.snapshotFrame(ClusterFrameTests.signed(snapshot)))
        let served = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(genuine.port)", token: Self.token, cacheDir: dir.file("genuine"))
        defer { served.stop() }
        try await served.waitForConfigVersion(1)
        // Cached before it is acknowledged, a moment after it is served.
        try await waitUntil("the snapshot cached") { FileManager.default.fileExists(atPath: dir.file("genuine/snapshot.json")) }
    }

    @Test func aDeltaThatDoesNotApplyIsRefusedAndTheWholeSnapshotFetched() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let v1 = try ClusterFrameTests.snapshot(version: 1)
        var document = v1.document
        document.routes[0].paths = ["/moved"]
        let v2 = Snapshot(version: 2, document: document)
        let signer = ClusterFrameTests.signer
        let epoch = ClusterFrameTests.epoch
        // Signed with the cluster's token, so only applying them shows what is wrong: one for a
        // base the data plane does not hold, one whose result is not the signed document.
        let wrongBase = SignedDelta(
            SnapshotDelta(from: v1.document, to: v2.document), from: (1, String(repeating: "0", count: 64)), to: v2, epoch: epoch, signer: signer)
        var other = document
        other.routes[1].paths = ["/evil"]
        let wrongResult = SignedDelta(SnapshotDelta(from: v1.document, to: other), from: (1, v1.hash), to: v2, epoch: epoch, signer: signer)
        let whole1 = ClusterProtocol.snapshotFrame(ClusterFrameTests.signed(v1))
        let forged = try await ForgedControlPlane.start { stream in
            switch stream {
            case 0: whole1 + ClusterProtocol.deltaFrame(wrongBase)
            case 1: whole1 + ClusterProtocol.deltaFrame(wrongResult)
            default: ClusterProtocol.snapshotFrame(ClusterFrameTests.signed(v2))
            }
        }
        let plane = try await GatehouseProcess.dataPlane(
            controlPlane: "http://127.0.0.1:\(forged.port)", token: Self.token, cacheDir: dir.file("dp"))
        defer { plane.stop() }
        try await plane.waitForConfigVersion(2)
        let status = try await httpRequest(port: plane.ports.status, .GET, "/status").json
        #expect(status["config_hash"] == .string(v2.hash))
        #expect(plane.output.contains("cannot apply the control plane's delta; asking it for the whole snapshot"))
        #expect(plane.output.contains("the delta applies to version 1 (000000000000…)"), "\(plane.output)")
        #expect(plane.output.contains("does not match its hash"), "\(plane.output)")
        // Each new stream asked for the whole snapshot: its hello named no config.
        let streams = forged.requests.filter { $0.hasPrefix("GET \(ClusterProtocol.streamPath)") }
        #expect(streams.count >= 3)
        #expect(streams.dropFirst().prefix(2).allSatisfy { !$0.lowercased().contains(ClusterProtocol.Header.configVersion) })
        // The document served is the signed one: /moved routes, /evil does not exist.
        let port = try await plane.waitForProxy()
        #expect(try await httpRequest(port: port, .GET, "/moved").status == 502)
        #expect(try await httpRequest(port: port, .GET, "/evil").status == 404)
    }

    static func lastError(_ statusPort: Int) async throws -> String? {
        try await httpRequest(port: statusPort, .GET, "/status").json["control_plane"]?["last_error"]?.stringValue
    }

    /// The process's peak resident size (VmHWM), in KiB.
    static func peakResidentKiB(_ pid: Int) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
}

extension ClusterFrameTests {
    /// A frame header: compressed length, then original length, big-endian.
    static func header(compressed: Int, original: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [UInt32(compressed), UInt32(original)] {
            bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return bytes
    }
}

/// Answers every stream request with 200 and `frames` as one chunk, leaving the response open;
/// reports get 204.
final class ForgedControlPlane: Sendable {
    let port: Int
    private let channel: any Channel
    private let heads: NIOLockedValueBox<[String]>

    var requests: [String] { heads.withLockedValue { $0 } }
    var streams: Int { requests.filter { $0.hasPrefix("GET \(ClusterProtocol.streamPath)") }.count }

    static func start(frames: [UInt8]) async throws -> ForgedControlPlane {
        try await start { _ in frames }
    }

    /// - Parameter framesForStream: the bytes for the stream request counted from 0.
    static func start(framesForStream: @escaping @Sendable (Int) -> [UInt8]) async throws -> ForgedControlPlane {
        let heads = NIOLockedValueBox<[String]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(framesForStream: framesForStream, heads: heads)) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ForgedControlPlane(channel: channel, heads: heads)
    }

    private init(channel: any Channel, heads: NIOLockedValueBox<[String]>) {
        self.channel = channel
        self.heads = heads
        port = channel.localAddress!.port!
    }

    deinit {
        channel.close(promise: nil)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let framesForStream: @Sendable (Int) -> [UInt8]
        let heads: NIOLockedValueBox<[String]>
        var received = ""

        init(framesForStream: @escaping @Sendable (Int) -> [UInt8], heads: NIOLockedValueBox<[String]>) {
            self.framesForStream = framesForStream
            self.heads = heads
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            guard let end = received.range(of: "\r\n\r\n") else { return }
            let head = String(received[..<end.upperBound])
            received = ""
            let streamsBefore = heads.withLockedValue { heads in
                defer { heads.append(head) }
                return heads.filter { $0.hasPrefix("GET \(ClusterProtocol.streamPath)") }.count
            }
            guard head.hasPrefix("GET \(ClusterProtocol.streamPath)") else {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")), promise: nil)
                return
            }
            let frames = framesForStream(streamsBefore)
            var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.gatehouse.cluster-frames\r\ntransfer-encoding: chunked\r\n\r\n")
            buffer.writeString(String(frames.count, radix: 16) + "\r\n")
            buffer.writeBytes(frames)
            buffer.writeString("\r\n")
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }
}
