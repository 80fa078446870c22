import Atomics
import GatehouseModel
import NIOCore
import NIOHTTP1

/// Running a route's policy chain: CORS preflights answered, keys checked, requests counted,
/// before the request goes upstream.
extension ProxyHandler {
    /// Who a request is, for the limits that count it.
    struct LimitSubject {
        /// Nil when no key identified one (an anonymous consumer counts per client IP).
        let consumerID: String?
        let clientIP: String
        let routeID: String
        let headers: HTTPHeaders

        func key(for policy: LimitPolicy) -> String {
            switch policy.by {
            case .consumer: consumerID.map { "c:\($0)" } ?? "ip:\(clientIP)"
            case .ip: "ip:\(clientIP)"
            case .route: "r:\(routeID)"
            case .header(let name): headers.first(name: name).map { "h:\($0)" } ?? "ip:\(clientIP)"
            }
        }
    }

    /// A CORS preflight, as browsers send them.
    static func isPreflight(_ head: HTTPRequestHead) -> Bool {
        head.method == .OPTIONS && head.headers.contains(name: "origin") && head.headers.contains(name: "access-control-request-method")
    }

    /// Answers a preflight for a route with a `cors` policy: no other policy runs, no credential
    /// is needed, nothing goes upstream.
    func answerPreflight(_ head: HTTPRequestHead, _ cors: CORSPolicy, metrics: PolicyMetrics) {
        metrics.preflights.wrappingIncrement(ordering: .relaxed)
        discardingBody = true
        var headers = HTTPHeaders()
        for (name, value) in cors.preflightHeaders(origin: head.headers.first(name: "origin") ?? "") { headers.add(name: name, value: value) }
        headers.add(name: "content-length", value: "0")
        headers.add(name: "x-request-id", value: head.headers.first(name: "x-request-id") ?? RequestID.make())
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        context?.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .noContent, headers: headers))), promise: nil)
        writeEnd(closeAfter: !head.isKeepAlive)
    }

    /// Counts the request with each limit in turn; on through to the upstream when none refuses.
    func runLimits(_ exchange: Exchange, _ limits: [LimitPolicy], from index: Int, _ subject: LimitSubject, metrics: PolicyMetrics) {
        guard index < limits.count else { return proceed(exchange) }
        let policy = limits[index]
        policy.count(subject.key(for: policy), on: pool.eventLoop) { [weak self] count, reset in
            // The client may have gone, or the gateway answered, while Redis was asked.
            guard let self, self.exchange === exchange else { return }
            guard let count else {
                if policy.failOpen {
                    metrics.failedOpen.wrappingIncrement(ordering: .relaxed)
                    return self.runLimits(exchange, limits, from: index + 1, subject, metrics: metrics)
                }
                metrics.failedClosed.wrappingIncrement(ordering: .relaxed)
                return self.failBeforeResponse(
                    .serviceUnavailable, "limit_unavailable", "policy '\(policy.name)' cannot count requests now (Redis unreachable)")
            }
            let headers = policy.headers(count: count, resetMilliseconds: reset)
            if count > policy.limit {
                (policy.isQuota ? metrics.quotaExceeded : metrics.rateLimited).wrappingIncrement(ordering: .relaxed)
                return self.failBeforeResponse(
                    .tooManyRequests, policy.isQuota ? "quota_exceeded" : "rate_limited",
                    policy.isQuota
                        ? "the quota of \(policy.limit) requests per \(policy.periodName) is used up"
                        : "more than \(policy.limit) requests per \(policy.periodName)",
                    headers: headers + [("retry-after", String((reset + 999) / 1000))])
            }
            exchange.addedHeaders += headers
            self.runLimits(exchange, limits, from: index + 1, subject, metrics: metrics)
        }
    }

    /// The client address limits count by: the peer, or for a trusted proxy the address it
    /// forwarded for.
    func limitClientIP(_ headers: HTTPHeaders, peer: String, trusted: Bool) -> String {
        guard trusted, let forwarded = headers[canonicalForm: "x-forwarded-for"].last else { return peer }
        return String(forwarded.split(separator: ",").last.map { $0.trimmingASCIISpaces() } ?? Substring(peer))
    }

    /// Puts the policies' headers on a response from the upstream; a route with a `cors` policy
    /// answers CORS itself, so the upstream's own CORS headers are dropped (two
    /// `Access-Control-Allow-Origin` values make browsers refuse the response).
    static func addPolicyHeaders(_ exchange: Exchange, to headers: inout HTTPHeaders) {
        if exchange.replacesCORS {
            for name in Set(headers.map(\.name).filter { $0.utf8.count > 15 && $0.lowercased().hasPrefix("access-control-") }) {
                headers.remove(name: name)
            }
        }
        for (name, value) in exchange.addedHeaders { headers.add(name: name, value: value) }
    }
}

extension Substring {
    func trimmingASCIISpaces() -> Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result = result.dropFirst() }
        while result.last == " " || result.last == "\t" { result = result.dropLast() }
        return result
    }
}

extension LimitPolicy {
    /// "minute", "10s", "day", "month": for messages.
    var periodName: String {
        switch kind {
        case .rateLimit(let window): Duration.milliseconds(window).configText
        case .quota(let monthly): monthly ? "month" : "day"
        }
    }
}
