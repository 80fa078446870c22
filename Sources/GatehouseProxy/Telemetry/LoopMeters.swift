import NIOConcurrencyHelpers

/// What one event loop counted, as a scrape reads it: the loop's own counts and the cells of each
/// route, upstream and target it served, by slot (`RequestMetrics`).
final class LoopTally: Sendable {
    let loop = LoopCells(count: MeterLayout.Loop.width)
    private let cells = NIOLockedValueBox(Published())

    struct Published {
        var routes: [Int: LoopCells] = [:]
        var upstreams: [Int: LoopCells] = [:]
        var targets: [Int: LoopCells] = [:]
        /// Responses by route and consumer (`MeterLayout.pairKey`), on routes with `consumer_metrics`.
        var pairs: [Int: LoopCells] = [:]
    }

    var published: Published { cells.withLockedValue { $0 } }

    func publish(_ change: (inout Published) -> Void) { cells.withLockedValue(change) }
}

/// One event loop's handle on its counts: cells found by slot in plain arrays, without a lock,
/// each made on the loop's first request for its slot. Used on its loop only (held in
/// `NIOLoopBound`, as the loop's connection pool is).
final class LoopMeters {
    let tally: LoopTally
    private var routes: [LoopCells?] = []
    private var upstreams: [LoopCells?] = []
    private var targets: [LoopCells?] = []
    private var pairs: [Int: LoopCells] = [:]

    init(tally: LoopTally) {
        self.tally = tally
    }

    var loop: LoopCells { tally.loop }

    @inline(__always)
    func route(_ slot: Int) -> LoopCells {
        if slot < routes.count, let cells = routes[slot] { return cells }
        return Self.make(slot, in: &routes, width: MeterLayout.Route.width, tally: tally, published: \.routes)
    }

    @inline(__always)
    func upstream(_ slot: Int) -> LoopCells {
        if slot < upstreams.count, let cells = upstreams[slot] { return cells }
        return Self.make(slot, in: &upstreams, width: MeterLayout.Upstream.width, tally: tally, published: \.upstreams)
    }

    @inline(__always)
    func target(_ slot: Int) -> LoopCells {
        if slot < targets.count, let cells = targets[slot] { return cells }
        return Self.make(slot, in: &targets, width: MeterLayout.Outcome.allCases.count, tally: tally, published: \.targets)
    }

    /// A consumer's responses on a route: a dictionary lookup, on routes that opt in only.
    func pair(route: Int, consumer: Int) -> LoopCells {
        let key = MeterLayout.pairKey(route: route, consumer: consumer)
        if let cells = pairs[key] { return cells }
        let cells = LoopCells(count: MeterLayout.Route.codesWidth)
        pairs[key] = cells
        tally.publish { $0.pairs[key] = cells }
        return cells
    }

    /// A slot's first use on this loop: its cells, published for the scrape.
    private static func make(
        _ slot: Int, in array: inout [LoopCells?], width: Int, tally: LoopTally, published: WritableKeyPath<LoopTally.Published, [Int: LoopCells]>
    ) -> LoopCells {
        if array.count <= slot { array.append(contentsOf: repeatElement(nil, count: slot + 1 - array.count)) }
        let cells = LoopCells(count: width)
        array[slot] = cells
        tally.publish { $0[keyPath: published][slot] = cells }
        return cells
    }

    /// Counts a response by status and source, in the codes part of a route's (or a pair's) cells.
    func count(_ cells: LoopCells, status: Int, source: MeterLayout.Source) {
        typealias Layout = MeterLayout.Route
        let key = Layout.key(status: status, source: source)
        let used = cells.value(Layout.used)
        var index = 0
        while index < used {
            if cells.value(index * 2) == key { return cells.add(index * 2 + 1) }
            index += 1
        }
        guard used < Layout.codeSlots else { return cells.add(Layout.overflow(status: status, source: source)) }
        cells.publish(used * 2, key)
        cells.add(used * 2 + 1)
        cells.publish(Layout.used, used + 1)
    }
}
