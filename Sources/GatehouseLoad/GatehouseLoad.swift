import NIOCore
import NIOPosix

/// `GatehouseLoad PORT PATH RATE CONNECTIONS SECONDS`: a constant-rate load on 127.0.0.1:PORT,
/// for comparing latency at one request rate (bench/run.sh). RATE requests per second in all,
/// spread evenly over CONNECTIONS keep-alive connections; each request leaves at its planned time
/// whatever happened to the one before (open loop), and its latency runs from that time, so a
/// slow answer counts for every request queued behind it. One second of warm-up is not measured.
/// Prints `rate=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=… errors=…`.
///
/// hey's rate limit cannot be used for this on a small machine: each worker waits for its answer
/// before the next tick, and hey's own CPU caps the rate, so targets end up measured at
/// different rates.
@main
struct GatehouseLoad {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst().map { $0 }
        guard arguments.count == 5, let port = Int(arguments[0]), let rate = Double(arguments[2]), let connections = Int(arguments[3]),
            let seconds = Double(arguments[4]), rate > 0, connections > 0, seconds > 0
        else {
            print("usage: GatehouseLoad PORT PATH RATE CONNECTIONS SECONDS")
            return
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let request = ByteBuffer(string: "GET \(arguments[1]) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
        let interval = TimeAmount.nanoseconds(Int64(Double(connections) / rate * 1e9))
        let begin = NIODeadline.now() + .milliseconds(200)
        let measured = begin + .seconds(1)
        let end = measured + .nanoseconds(Int64(seconds * 1e9))
        let recorder = try await loop.submit { NIOLoopBound(LoadRecorder(start: measured), eventLoop: loop) }.get()
        var channels: [any Channel] = []
        for index in 0..<connections {
            let channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoadConnection(request: request, recorder: recorder.value))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .get()
            // Connections take turns, so requests leave evenly spaced in all.
            let first = begin + .nanoseconds(interval.nanoseconds * Int64(index) / Int64(connections))
            try await loop.submit {
                let context = try channel.pipeline.syncOperations.context(handlerType: LoadConnection.self)
                let connection = context.handler as! LoadConnection
                loop.assumeIsolated().scheduleTask(deadline: first) { connection.send(at: first, every: interval, until: end, context: context) }
            }.get()
            channels.append(channel)
        }
        try await Task.sleep(for: .nanoseconds(end.uptimeNanoseconds - NIODeadline.now().uptimeNanoseconds + 500_000_000))
        let (line, _) = try await loop.submit { () -> (String, Int) in
            let recorder = recorder.value
            let sorted = recorder.latencies.sorted()
            let achieved = Double(sorted.count) / seconds
            let figures = [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p999_us", 0.999), ("max_us", 1.0)]
                .map { "\($0.0)=\(Int(recorder.percentile($0.1, sorted: sorted)))" }
            return ("rate=\(Int(achieved)) " + figures.joined(separator: " ") + " errors=\(recorder.errors)", sorted.count)
        }.get()
        for channel in channels { try? await channel.close() }
        print(line)
        try await group.shutdownGracefully()
    }
}
