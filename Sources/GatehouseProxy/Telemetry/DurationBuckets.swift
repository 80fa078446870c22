/// The fixed buckets of every duration histogram, from 25 µs (a gateway's own work on a fast
/// request) to 60 s, so sub-millisecond requests are not all in the first bucket. Documented in
/// docs/observability.md; changing them changes every dashboard's quantiles.
enum DurationBuckets {
    /// Upper bounds in nanoseconds; a last bucket (+Inf) takes the rest.
    static let bounds: [Int64] = [
        25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000, 500_000_000,
        1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000, 30_000_000_000, 60_000_000_000,
    ]
    /// The `le` label of each bound, in seconds.
    static let labels: [String] = [
        "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005",
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
        "1", "2.5", "5", "10", "30", "60",
    ]
    /// The bounds (indices into `bounds`) a route's histogram shows: 250 µs to 10 s, ten instead
    /// of twenty, as routes are many (a scrape of 10,000 routes is mostly their buckets). The
    /// gateway's own part and each upstream's show them all.
    static let routeBounds = [3, 4, 5, 6, 7, 8, 9, 11, 14, 17]
    /// Words a histogram takes in `LoopCells`: a count per bucket (not cumulative), +Inf, the sum in ns.
    static let width = bounds.count + 2
    static let sumOffset = bounds.count + 1

    /// The bucket of a duration: a scan from the smallest, where fast requests stop at once.
    @inline(__always)
    static func index(_ nanoseconds: Int64) -> Int {
        var index = 0
        while index < bounds.count, nanoseconds > bounds[index] { index += 1 }
        return index
    }
}
