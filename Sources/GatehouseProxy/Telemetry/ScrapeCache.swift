import CZlib
import NIOConcurrencyHelpers
import NIOCore

/// The `/metrics` document, rendered again at most once a second when rendering is slow (many
/// routes): however often it is scraped, the status thread renders it once a second. A quick
/// rendering is made fresh for every scrape. Kept as bytes, so a scrape copies nothing; gzipped
/// too for scrapers that accept it (Prometheus does), made once per rendering: 10,000 routes
/// are ~12 MB of text and ~0.6 MB gzipped, and sending the text over a socket costs the
/// kernel's time, which no nice value defers, while compressing yields to the proxy's loops.
public final class ScrapeCache: Sendable {
    private struct Rendered {
        let at: NIODeadline
        let slow: Bool
        let text: ByteBuffer
        var gzip: ByteBuffer?
    }

    private let render: @Sendable () -> String
    private let rendered = NIOLockedValueBox<Rendered?>(nil)
    static let lifetime = TimeAmount.seconds(1)
    /// A rendering that took longer is kept for `lifetime`.
    static let slow = TimeAmount.milliseconds(5)

    public init(render: @escaping @Sendable () -> String) {
        self.render = render
    }

    /// The document, gzipped when `gzip` asks for it (and compressing worked).
    func document(gzip: Bool) -> (body: ByteBuffer, gzipped: Bool) {
        var current = fresh()
        guard gzip else { return (current.text, false) }
        if let compressed = current.gzip { return (compressed, true) }
        guard let compressed = Self.gzip(current.text) else { return (current.text, false) }
        current.gzip = compressed
        if current.slow { rendered.withLockedValue { if $0?.at == current.at { $0 = current } } }
        return (compressed, true)
    }

    private func fresh() -> Rendered {
        let now = NIODeadline.now()
        if let cached = rendered.withLockedValue({ $0 }), now - cached.at < Self.lifetime { return cached }
        let text = ByteBuffer(string: render())
        let slow = NIODeadline.now() - now >= Self.slow
        let made = Rendered(at: now, slow: slow, text: text)
        rendered.withLockedValue { $0 = slow ? made : nil }
        return made
    }

    /// The gzip (RFC 1952) form of `text`, at zlib's fastest level; nil when zlib fails.
    static func gzip(_ text: ByteBuffer) -> ByteBuffer? {
        text.withUnsafeReadableBytes { source -> ByteBuffer? in
            guard let start = source.baseAddress else { return nil }
            var out = ByteBuffer()
            let written = out.writeWithUnsafeMutableBytes(minimumWritableBytes: czlib_gzip_bound(source.count)) { destination in
                czlib_gzip(start.assumingMemoryBound(to: UInt8.self), source.count, destination.baseAddress!.assumingMemoryBound(to: UInt8.self), destination.count)
            }
            return written > 0 ? out : nil
        }
    }
}
