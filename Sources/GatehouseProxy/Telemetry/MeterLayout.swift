/// Where each count sits in the `LoopCells` of a route, an upstream, a target and a loop.
enum MeterLayout {
    /// Who wrote a response: a 502 the gateway made is not the upstream's 500.
    enum Source: Int, CaseIterable, Sendable {
        case upstream
        case gateway

        var label: String { self == .upstream ? "upstream" : "gateway" }
    }

    /// A route's requests by status code and source, its request durations and bytes.
    enum Route {
        /// Distinct (code, source) pairs a route counts by name on a loop; more are counted by
        /// class (`code="5xx"`, which `code=~"5.."` still matches).
        static let codeSlots = 12
        /// Pairs of words from 0: the key (`key(status:source:)`, 0 while unused) and its count.
        static let used = codeSlots * 2
        /// The count of published keys (`LoopCells.publish`), then the overflow by class and source.
        static let other = used + 1
        /// Classes 1xx to 5xx, and a sixth for any other status.
        static let classes = 6
        /// The codes part ends here; a route and consumer pair has only that part.
        static let codesWidth = other + classes * Source.allCases.count
        static let duration = codesWidth
        static let bytesIn = duration + DurationBuckets.width
        static let bytesOut = bytesIn + 1
        /// Requests that ended without a whole response: the client left, or the response was cut.
        static let aborted = bytesOut + 1
        static let width = aborted + 1

        static func key(status: Int, source: Source) -> Int { status * 2 + source.rawValue + 1 }
        static func overflow(status: Int, source: Source) -> Int {
            other + ((1...5).contains(status / 100) ? status / 100 - 1 : 5) * Source.allCases.count + source.rawValue
        }
        static func classLabel(_ index: Int) -> String { index < 5 ? "\(index + 1)xx" : "other" }
        static func status(ofKey key: Int) -> Int { (key - 1) / 2 }
        static func source(ofKey key: Int) -> Source { Source(rawValue: (key - 1) % 2)! }
    }

    /// The key of a route and consumer pair's cells.
    static func pairKey(route: Int, consumer: Int) -> Int { route << 32 | consumer }
    static func pair(ofKey key: Int) -> (route: Int, consumer: Int) { (key >> 32, key & 0xFFFF_FFFF) }

    /// An upstream's part of requests (first attempt to the response's end) and its retries.
    enum Upstream {
        static let duration = 0
        static let retries = DurationBuckets.width
        static let width = retries + 1
    }

    /// How attempts on one target ended.
    enum Outcome: Int, CaseIterable {
        case success
        case connectFailure
        case reset
        case timeout
        case badResponse

        var label: String {
            switch self {
            case .success: "success"
            case .connectFailure: "connect_failure"
            case .reset: "reset"
            case .timeout: "timeout"
            case .badResponse: "bad_response"
            }
        }
    }

    /// A loop's connections and requests, and the gateway's own part of requests.
    enum Loop {
        static let accepted = 0
        static let closed = 1
        static let started = 2
        static let finished = 3
        static let aborted = 4
        static let gateway = 5
        static let width = gateway + DurationBuckets.width
    }
}
