import NIOCore
import NIOPosix

/// A server a test starts as another process found its port taken, and exited.
struct PortTaken: Error {}

/// Starts a server process on a free loopback port: the kernel picks one (bound, then released)
/// and `launch` hands it to the server. Another test may be handed the same port meanwhile;
/// `launch` then throws `PortTaken` and another port is tried (20 times at most).
func onFreePort<Server>(udp: Bool = false, _ launch: (Int) async throws -> Server) async throws -> (port: Int, server: Server) {
    var attempts = 0
    while true {
        let probe: any Channel =
            udp
            ? try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            : try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        do {
            return (port, try await launch(port))
        } catch is PortTaken where attempts < 20 {
            attempts += 1
        }
    }
}
