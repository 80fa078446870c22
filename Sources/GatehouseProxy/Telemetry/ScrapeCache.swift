import NIOConcurrencyHelpers
import NIOCore

/// The `/metrics` document, rendered again at most once a second when rendering is slow (many
/// routes): however often it is scraped, the status thread renders it once a second. A quick
/// rendering is made fresh for every scrape. Kept as bytes, so a scrape copies nothing.
public final class ScrapeCache: Sendable {
    private let render: @Sendable () -> String
    private let rendered = NIOLockedValueBox<(at: NIODeadline, bytes: ByteBuffer)?>(nil)
    static let lifetime = TimeAmount.seconds(1)
    /// A rendering that took longer is kept for `lifetime`.
    static let slow = TimeAmount.milliseconds(5)

    public init(render: @escaping @Sendable () -> String) {
        self.render = render
    }

    public var bytes: ByteBuffer {
        let now = NIODeadline.now()
        if let cached = rendered.withLockedValue({ $0 }), now - cached.at < Self.lifetime { return cached.bytes }
        let bytes = ByteBuffer(string: render())
        let took = NIODeadline.now() - now
        rendered.withLockedValue { $0 = took >= Self.slow ? (now, bytes) : nil }
        return bytes
    }
}
