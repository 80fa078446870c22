import Logging
import NIOCore
import ServiceLifecycle

/// A bound server socket as a service: it serves from the moment it is bound, logs its address
/// when the service group starts, and closes on graceful shutdown.
public final class Listener: Service {
    public let name: String
    public let localAddress: SocketAddress
    private let channel: any Channel
    private let logger: Logger

    init(name: String, channel: any Channel, logger: Logger) {
        self.name = name
        self.channel = channel
        localAddress = channel.localAddress!
        self.logger = logger
    }

    public func run() async throws {
        logger.info("\(name) listening", metadata: ["address": "\(localAddress.display)"])
        try await gracefulShutdown()
        try? await channel.close()
    }
}
