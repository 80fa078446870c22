import NIOCore

/// One request's measurements from its head to its answer, kept by `ProxyHandler` and counted
/// into its loop's cells when the request ends: a handful of stores per request, three clock reads.
struct RequestMeasure {
    private var started: NIODeadline?
    private var route = RequestMetrics.unmatched
    private var upstream: Int?
    private var upstreamStarted: NIODeadline?
    private var status = 0
    private var source = MeterLayout.Source.gateway
    private var bytesIn = 0
    private var bytesOut = 0

    /// A request is being measured (its head came, its answer has not ended).
    var isActive: Bool { started != nil }

    mutating func begin(_ meters: LoopMeters) {
        self = RequestMeasure()
        started = .now()
        meters.loop.add(MeterLayout.Loop.started)
    }

    mutating func routed(_ slot: Int) { route = slot }

    /// An attempt on the upstream begins; the upstream's part starts with the first.
    mutating func attempting(upstream slot: Int) {
        guard upstreamStarted == nil else { return }
        upstream = slot
        upstreamStarted = .now()
    }

    /// The status of the answer's head, and who wrote it.
    mutating func answered(status: Int, source: MeterLayout.Source) {
        self.status = status
        self.source = source
    }

    mutating func received(_ bytes: Int) { bytesIn &+= bytes }
    mutating func sent(_ bytes: Int) { bytesOut &+= bytes }

    /// The answer ended: counted by route, status and source, with its durations.
    mutating func finish(_ meters: LoopMeters) {
        // A refusal the parser made comes before any head.
        if started == nil { begin(meters) }
        let now = NIODeadline.now()
        let total = max(0, (now - started!).nanoseconds)
        let cells = meters.route(route)
        meters.count(route: cells, status: status, source: source)
        cells.record(histogramAt: MeterLayout.Route.duration, nanoseconds: total)
        cells.add(MeterLayout.Route.bytesIn, bytesIn)
        cells.add(MeterLayout.Route.bytesOut, bytesOut)
        var upstreamPart: Int64 = 0
        if let upstream, let upstreamStarted {
            upstreamPart = min(total, max(0, (now - upstreamStarted).nanoseconds))
            meters.upstream(upstream).record(histogramAt: MeterLayout.Upstream.duration, nanoseconds: upstreamPart)
        }
        meters.loop.record(histogramAt: MeterLayout.Loop.gateway, nanoseconds: total - upstreamPart)
        meters.loop.add(MeterLayout.Loop.finished)
        started = nil
    }

    /// The request ended without a whole answer: its client left, or the response was cut.
    mutating func abort(_ meters: LoopMeters) {
        guard started != nil else { return }
        let cells = meters.route(route)
        cells.add(MeterLayout.Route.aborted)
        cells.add(MeterLayout.Route.bytesIn, bytesIn)
        cells.add(MeterLayout.Route.bytesOut, bytesOut)
        meters.loop.add(MeterLayout.Loop.aborted)
        started = nil
    }
}
