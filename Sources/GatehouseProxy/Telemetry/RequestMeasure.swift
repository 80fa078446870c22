import NIOCore

/// One request's measurements from its head to its answer, kept by `ProxyHandler` and counted
/// into its loop's cells (and written to its access log) when the request ends: a handful of
/// stores per request, three clock reads.
struct RequestMeasure {
    private var started: NIODeadline?
    private var route = RequestMetrics.unmatched
    /// The consumer slot its answer also counts under, on a route with `consumer_metrics`; -1 on others.
    private var consumer = -1
    private var upstream: Int?
    private var upstreamStarted: NIODeadline?
    private var status = 0
    private var source = MeterLayout.Source.gateway
    private var bytesIn = 0
    private var bytesOut = 0
    /// What the access log and the span say of the request; nil while both are off.
    var record: AccessRecord?
    /// The request's trace context: the caller's, or a new trace.
    var trace: TraceContext?

    /// A request is being measured (its head came, its answer has not ended).
    var isActive: Bool { started != nil }

    mutating func begin(_ meters: LoopMeters?, record: AccessRecord? = nil) {
        self = RequestMeasure()
        started = .now()
        self.record = record
        meters?.loop.add(MeterLayout.Loop.started)
    }

    mutating func routed(_ route: CompiledRoute) {
        self.route = route.meterSlot
        if route.consumerMetrics { consumer = RequestMetrics.noConsumer }
        record?.route = route.name
    }

    /// Authentication let the request in, as `consumer` (nil: a token mapped to none).
    mutating func identified(_ consumer: CompiledConsumer?) {
        if self.consumer >= 0 { self.consumer = consumer?.meterSlot ?? RequestMetrics.noConsumer }
        record?.consumer = consumer?.name
    }

    /// An attempt on the upstream's endpoint `index` begins; the upstream's part starts with the first.
    mutating func attempting(_ upstream: CompiledUpstream, _ index: Int) {
        if record != nil {
            record?.attempts += 1
            record?.upstream = upstream.name
            record?.target = upstream.endpoints[index].description
        }
        guard upstreamStarted == nil else { return }
        self.upstream = upstream.meterSlot
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
    mutating func finish(_ meters: LoopMeters?, _ log: LoopAccessLog?, _ tracer: SpanExporter?) {
        // Defensive: the handler begins a measure before every answer.
        if started == nil {
            started = .now()
            meters?.loop.add(MeterLayout.Loop.started)
        }
        let now = NIODeadline.now()
        let total = max(0, (now - started!).nanoseconds)
        let upstreamPart = upstreamStarted.map { min(total, max(0, (now - $0).nanoseconds)) } ?? 0
        if let meters {
            let cells = meters.route(route)
            meters.count(cells, status: status, source: source)
            if consumer >= 0 { meters.count(meters.pair(route: route, consumer: consumer), status: status, source: source) }
            cells.record(histogramAt: MeterLayout.Route.duration, nanoseconds: total)
            cells.add(MeterLayout.Route.bytesIn, bytesIn)
            cells.add(MeterLayout.Route.bytesOut, bytesOut)
            if let upstream { meters.upstream(upstream).record(histogramAt: MeterLayout.Upstream.duration, nanoseconds: upstreamPart) }
            meters.loop.record(histogramAt: MeterLayout.Loop.gateway, nanoseconds: total - upstreamPart)
            meters.loop.add(MeterLayout.Loop.finished)
        }
        if let record {
            let figures = figures(total: total, upstream: upstreamPart, aborted: false)
            log?.append(record, figures)
            if let tracer, let trace, trace.sampled { tracer.record(SpanExporter.Span(trace: trace, record: record, figures: figures)) }
        }
        started = nil
        record = nil
    }

    /// The request ended without a whole answer: its client left, or the response was cut.
    mutating func abort(_ meters: LoopMeters?, _ log: LoopAccessLog?, _ tracer: SpanExporter?) {
        guard let started else { return }
        if let meters {
            let cells = meters.route(route)
            cells.add(MeterLayout.Route.aborted)
            cells.add(MeterLayout.Route.bytesIn, bytesIn)
            cells.add(MeterLayout.Route.bytesOut, bytesOut)
            meters.loop.add(MeterLayout.Loop.aborted)
        }
        if let record {
            let now = NIODeadline.now()
            let total = max(0, (now - started).nanoseconds)
            let upstreamPart = upstreamStarted.map { min(total, max(0, (now - $0).nanoseconds)) } ?? 0
            let figures = figures(total: total, upstream: upstreamPart, aborted: true)
            log?.append(record, figures)
            if let tracer, let trace, trace.sampled { tracer.record(SpanExporter.Span(trace: trace, record: record, figures: figures)) }
        }
        self.started = nil
        record = nil
    }

    private func figures(total: Int64, upstream: Int64, aborted: Bool) -> AccessLogLine.Figures {
        AccessLogLine.Figures(
            status: status, source: source, bytesIn: bytesIn, bytesOut: bytesOut, totalNanoseconds: total, upstreamNanoseconds: upstream,
            aborted: aborted, trace: trace)
    }
}
