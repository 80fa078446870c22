import NIOConcurrencyHelpers

/// The request metrics of a data plane: which route, upstream and target each slot counts for
/// (slots are handed out when a config compiles, kept for a name across snapshots, so a
/// counter never goes back), and every event loop's tally. Requests count into their loop's own
/// cells (`LoopMeters`); a scrape sums the loops, off the event loops.
///
/// Series of a route, upstream or target that left the config stay until the process ends:
/// counters never go back.
public final class RequestMetrics: Sendable {
    private struct Names {
        var routes: [String] = [RequestMetrics.unmatchedName]
        var routeSlots: [String: Int] = [RequestMetrics.unmatchedName: 0]
        var upstreams: [String] = []
        var upstreamSlots: [String: Int] = [:]
        var targets: [(upstream: String, target: String)] = []
        var targetSlots: [String: Int] = [:]
        var consumers: [String] = [RequestMetrics.noConsumerName, RequestMetrics.otherConsumerName]
        var consumerSlots: [String: Int] = [:]
    }

    private let names = NIOLockedValueBox(Names())
    private let tallies = NIOLockedValueBox<[LoopTally]>([])

    /// The slot of requests that matched no route (and of those refused before routing).
    static let unmatched = 0
    static let unmatchedName = "_unmatched"
    /// The consumer slot of requests no consumer made (none identified, or refused).
    static let noConsumer = 0
    static let noConsumerName = "_none"
    /// The consumer slot of consumers past the cap.
    static let otherConsumer = 1
    static let otherConsumerName = "_other"

    /// Consumers that get their own `consumer` label, the first in name order; the rest count
    /// as `_other`, so a route's consumer series stay bounded however many consumers there are.
    let consumerLabels: Int

    public init(consumerLabels: Int = 100) {
        self.consumerLabels = consumerLabels
    }

    func routeSlot(_ name: String) -> Int {
        names.withLockedValue { names in
            if let slot = names.routeSlots[name] { return slot }
            names.routes.append(name)
            names.routeSlots[name] = names.routes.count - 1
            return names.routes.count - 1
        }
    }

    func upstreamSlot(_ name: String) -> Int {
        names.withLockedValue { names in
            if let slot = names.upstreamSlots[name] { return slot }
            names.upstreams.append(name)
            names.upstreamSlots[name] = names.upstreams.count - 1
            return names.upstreams.count - 1
        }
    }

    func targetSlot(upstream: String, target: String) -> Int {
        let key = upstream + "\u{0}" + target
        return names.withLockedValue { names in
            if let slot = names.targetSlots[key] { return slot }
            names.targets.append((upstream, target))
            names.targetSlots[key] = names.targets.count - 1
            return names.targets.count - 1
        }
    }

    /// The slot of the consumer `name`, the `rank`th in name order: its own below the cap, else `_other`.
    func consumerSlot(_ name: String, rank: Int) -> Int {
        guard rank < consumerLabels else { return Self.otherConsumer }
        return names.withLockedValue { names in
            if let slot = names.consumerSlots[name] { return slot }
            names.consumers.append(name)
            names.consumerSlots[name] = names.consumers.count - 1
            return names.consumers.count - 1
        }
    }

    /// The meters of an event loop that starts serving; call once per loop.
    func meters() -> LoopMeters {
        let tally = LoopTally()
        tallies.withLockedValue { $0.append(tally) }
        return LoopMeters(tally: tally)
    }

    /// The Prometheus text of the request metrics, summed over the loops.
    public var prometheusText: String {
        let names = names.withLockedValue { $0 }
        let tallies = tallies.withLockedValue { $0 }
        let published = tallies.map(\.published)
        var out = PrometheusText(capacity: 4096 + names.routes.count * 2048)

        // Routes: responses by code and source, durations, bytes.
        let routes = Codes.sum(published.map(\.routes), width: MeterLayout.Route.width)
        let routeSums = routes.sums
        let routeSlots = routeSums.keys.sorted()
        out.family("gatehouse_http_requests_total", "counter", "Requests answered, by route, status code and who wrote the answer (upstream or gateway).")
        for slot in routeSlots {
            routes.samples(of: slot, "gatehouse_http_requests_total", [("route", names.routes[slot])], into: &out)
        }
        let pairs = Codes.sum(published.map(\.pairs), width: MeterLayout.Route.codesWidth)
        out.family(
            "gatehouse_http_consumer_requests_total", "counter",
            "Requests answered on routes with consumer_metrics, by route, consumer (_none without one, _other past the cap), status code and source.")
        for key in pairs.sums.keys.sorted() {
            let (route, consumer) = MeterLayout.pair(ofKey: key)
            pairs.samples(of: key, "gatehouse_http_consumer_requests_total", [("route", names.routes[route]), ("consumer", names.consumers[consumer])], into: &out)
        }
        out.family("gatehouse_http_requests_aborted_total", "counter", "Requests that ended without a whole response: the client left, or the response was cut.")
        for slot in routeSlots { out.sample("gatehouse_http_requests_aborted_total", [("route", names.routes[slot])], routeSums[slot]![MeterLayout.Route.aborted]) }
        out.family("gatehouse_http_request_duration_seconds", "histogram", "Time from a request's head to the end of its response, by route.")
        for slot in routeSlots {
            let sums = routeSums[slot]!
            let start = MeterLayout.Route.duration
            out.histogram(
                "gatehouse_http_request_duration_seconds", [("route", names.routes[slot])],
                buckets: sums[start..<start + DurationBuckets.sumOffset], sumNanoseconds: sums[start + DurationBuckets.sumOffset],
                shown: DurationBuckets.routeBounds)
        }
        out.family("gatehouse_http_request_body_bytes_total", "counter", "Request body bytes received, by route.")
        for slot in routeSlots { out.sample("gatehouse_http_request_body_bytes_total", [("route", names.routes[slot])], routeSums[slot]![MeterLayout.Route.bytesIn]) }
        out.family("gatehouse_http_response_bytes_total", "counter", "Response bytes sent to clients (head and body), by route.")
        for slot in routeSlots { out.sample("gatehouse_http_response_bytes_total", [("route", names.routes[slot])], routeSums[slot]![MeterLayout.Route.bytesOut]) }

        // Upstreams: their part of requests, retries, attempts by target and outcome.
        var upstreamSums: [Int: [Int]] = [:]
        var targetSums: [Int: [Int]] = [:]
        for tally in published {
            for (slot, cells) in tally.upstreams {
                var sums = upstreamSums[slot] ?? Array(repeating: 0, count: MeterLayout.Upstream.width)
                for index in 0..<MeterLayout.Upstream.width { sums[index] += cells.value(index) }
                upstreamSums[slot] = sums
            }
            for (slot, cells) in tally.targets {
                var sums = targetSums[slot] ?? Array(repeating: 0, count: MeterLayout.Outcome.allCases.count)
                for index in sums.indices { sums[index] += cells.value(index) }
                targetSums[slot] = sums
            }
        }
        let upstreamSlots = upstreamSums.keys.sorted()
        out.family(
            "gatehouse_upstream_duration_seconds", "histogram",
            "Time from a request's first attempt on an upstream to the end of its response (retries included), by upstream.")
        for slot in upstreamSlots {
            let sums = upstreamSums[slot]!
            out.histogram(
                "gatehouse_upstream_duration_seconds", [("upstream", names.upstreams[slot])], buckets: sums[0..<DurationBuckets.sumOffset],
                sumNanoseconds: sums[DurationBuckets.sumOffset])
        }
        out.family("gatehouse_upstream_retries_total", "counter", "Attempts made after an attempt failed (another target, or a fresh connection), by upstream.")
        for slot in upstreamSlots {
            out.sample("gatehouse_upstream_retries_total", [("upstream", names.upstreams[slot])], upstreamSums[slot]![MeterLayout.Upstream.retries])
        }
        out.family("gatehouse_upstream_attempts_total", "counter", "Attempts to send a request to a target, by upstream, target and how they ended.")
        for slot in targetSums.keys.sorted() {
            let (upstream, target) = names.targets[slot]
            for outcome in MeterLayout.Outcome.allCases {
                out.sample(
                    "gatehouse_upstream_attempts_total", [("upstream", upstream), ("target", target), ("outcome", outcome.label)],
                    targetSums[slot]![outcome.rawValue])
            }
        }

        // Loops: connections, requests in flight, the gateway's own part.
        var loop = Array(repeating: 0, count: MeterLayout.Loop.width)
        for tally in tallies {
            for index in loop.indices { loop[index] += tally.loop.value(index) }
        }
        typealias Loop = MeterLayout.Loop
        out.family("gatehouse_gateway_duration_seconds", "histogram", "The gateway's own part of requests: their duration less the upstream's part.")
        out.histogram(
            "gatehouse_gateway_duration_seconds", buckets: loop[Loop.gateway..<Loop.gateway + DurationBuckets.sumOffset],
            sumNanoseconds: loop[Loop.gateway + DurationBuckets.sumOffset])
        out.family("gatehouse_connections_accepted_total", "counter", "Client connections accepted.")
        out.sample("gatehouse_connections_accepted_total", loop[Loop.accepted])
        out.family("gatehouse_connections_open", "gauge", "Client connections open.")
        out.sample("gatehouse_connections_open", max(0, loop[Loop.accepted] - loop[Loop.closed]))
        out.family("gatehouse_http_requests_in_flight", "gauge", "Requests begun and not yet answered.")
        out.sample("gatehouse_http_requests_in_flight", max(0, loop[Loop.started] - loop[Loop.finished] - loop[Loop.aborted]))
        return out.text
    }
}

/// Responses by status code and source summed over the loops, for cells whose first part is a
/// route's codes (`MeterLayout.Route`): a route's, or a route and consumer pair's.
private struct Codes {
    /// Slot → code key (`MeterLayout.Route.key`) → count.
    var codes: [Int: [Int: Int]] = [:]
    /// Slot → the other words of the cells, summed.
    var sums: [Int: [Int]] = [:]

    static func sum(_ loops: [[Int: LoopCells]], width: Int) -> Codes {
        var result = Codes()
        for cellsBySlot in loops {
            for (slot, cells) in cellsBySlot {
                var sums = result.sums[slot] ?? Array(repeating: 0, count: width)
                for index in MeterLayout.Route.used..<width { sums[index] += cells.value(index) }
                result.sums[slot] = sums
                let used = cells.published(MeterLayout.Route.used)
                for pair in 0..<used {
                    result.codes[slot, default: [:]][cells.value(pair * 2), default: 0] += cells.value(pair * 2 + 1)
                }
            }
        }
        return result
    }

    /// The samples of one slot: a code and source each, then the codes past the loop's slots by class.
    func samples(of slot: Int, _ name: String, _ labels: [(String, String)], into out: inout PrometheusText) {
        for (key, count) in (codes[slot] ?? [:]).sorted(by: { $0.key < $1.key }) {
            let source = MeterLayout.Route.source(ofKey: key).label
            out.sample(name, labels + [("code", String(MeterLayout.Route.status(ofKey: key))), ("source", source)], count)
        }
        for index in 0..<MeterLayout.Route.classes {
            for source in MeterLayout.Source.allCases {
                let other = sums[slot]![MeterLayout.Route.other + index * MeterLayout.Source.allCases.count + source.rawValue]
                guard other > 0 else { continue }
                out.sample(name, labels + [("code", MeterLayout.Route.classLabel(index)), ("source", source.label)], other)
            }
        }
    }
}
