import Atomics
import GatehouseHTTP1
import GatehouseModel
import GatehouseRedis
import NIOCore
import NIOHTTP1

/// Running a route's policy chain: CORS preflights answered, keys checked, requests counted,
/// before the request goes upstream.
extension ProxyHandler {
    /// Who a request is, for the limits that count it.
    struct LimitSubject {
        /// Nil when no key identified one (an anonymous consumer counts per client IP).
        let consumer: CompiledConsumer?
        let clientIP: String
        let routeID: String
        let headers: RequestFields

        func key(for policy: LimitPolicy) -> String {
            switch policy.by {
            case .consumer: consumer?.limitKey ?? "ip:\(clientIP)"
            case .ip: "ip:\(clientIP)"
            case .route: "r:\(routeID)"
            case .header(let name): headers.first(name: name).map { "h:\($0)" } ?? "ip:\(clientIP)"
            }
        }
    }

    /// A CORS preflight, as browsers send them.
    static func isPreflight(_ head: RequestHead) -> Bool {
        head.method == .OPTIONS && head.fields.contains(name: "origin") && head.fields.contains(name: "access-control-request-method")
    }

    /// Answers a preflight for a route with a `cors` policy: no other policy runs, no credential
    /// is needed, nothing goes upstream.
    func answerPreflight(_ head: RequestHead, _ cors: CORSPolicy, metrics: PolicyMetrics) {
        metrics.preflights.wrappingIncrement(ordering: .relaxed)
        client.answeredLocally()
        let origin = head.fields.first(name: "origin") ?? ""
        if !cors.allows(origin) { metrics.preflightsRefused.wrappingIncrement(ordering: .relaxed) }
        var headers = HTTPHeaders()
        for (name, value) in cors.preflightHeaders(origin: origin) { headers.add(name: name, value: value) }
        headers.add(name: "content-length", value: "0")
        headers.add(name: "x-request-id", value: head.fields.first(name: "x-request-id") ?? pool.requestIDs.make())
        let keepAlive = keepsConnection(after: head)
        if !keepAlive { headers.add(name: "connection", value: "close") }
        writeHead(HTTPResponseHead(version: head.version, status: .noContent, headers: headers), flush: false)
        writeEnd(closeAfter: !keepAlive)
    }

    enum AuthenticationStep {
        /// Refused: the 401 (or 503, 429) is written.
        case answered
        case caller(Caller)
        /// An authorization server must be asked about the token, or a password checked, first.
        case wait(AuthenticationWait)
    }

    /// Runs the route's authentication policies; answers 401 when none lets the request in, 503
    /// when a token could not be checked.
    func authenticate(
        _ head: RequestHead, _ chain: PolicyChain, query: inout Substring?, answerHeaders: [(String, String)], metrics: PolicyMetrics,
        answers: AuthenticationAnswers
    ) -> AuthenticationStep {
        switch AuthenticationDecision(chain, headers: head.fields, query: query, client: clientIP, metrics: metrics, answers: answers) {
        case .wait(let wait):
            return .wait(wait)
        case .refused(let message, _, _, _, .serviceUnavailable, _):
            respondLocally(head, .serviceUnavailable, "auth_unavailable", message, headers: answerHeaders + [("retry-after", "1")])
            return .answered
        case .refused(let message, _, _, _, .tooManyRequests, _):
            respondLocally(head, .tooManyRequests, "too_many_failures", message, headers: answerHeaders + [("retry-after", "60")])
            return .answered
        case .refused(let message, let challenges, _, _, _, let failure):
            failure?.counters.count(failure!.reason)
            measure.record?.policy = failure?.counters.policy
            respondLocally(head, .unauthorized, "unauthorized", message, headers: answerHeaders + challenges)
            return .answered
        case .caller(let caller):
            // A credential sent in the query stays out of the forwarded URL unless told otherwise.
            if let keyAuth = chain.keyAuth, keyAuth.hideCredentials, let present = query {
                query = keyAuth.keyNames.reduce(Optional(present)) { rest, name in rest.flatMap { KeyAuthPolicy.removing(name, from: $0) } }
            }
            if let jwt = chain.jwt, jwt.hideCredentials, let parameter = jwt.location.queryParameter, let present = query {
                query = KeyAuthPolicy.removing(parameter, from: present)
            }
            if let introspection = chain.introspection, introspection.hideCredentials, let parameter = introspection.location.queryParameter,
                let present = query
            {
                query = KeyAuthPolicy.removing(parameter, from: present)
            }
            return .caller(caller)
        }
    }

    /// Starts what the request's authentication waits for; it resumes once the answer is in
    /// (at once, when it already was).
    func wait(for wait: AuthenticationWait, _ request: Admission, _ answers: AuthenticationAnswers) {
        let pending = PendingAuthentication(request)
        client.authenticationStarted(pending)
        // The client may be done and silent (or waiting for 100 Continue): the gateway's doing.
        timeouts?.clientReadsHeld(true)
        var answers = answers
        switch wait {
        case .introspection(let policy, let token, let key):
            let answer = policy.endpoint.check(token, key: key, on: pool.eventLoop) { [self] verdict in
                answers.introspected = verdict
                self.resume(pending, answers)
            }
            guard let answer, client.authenticationAnswered(pending) else { return }
            endWait()
            answers.introspected = answer
            admit(request, answers: answers)
        case .keys(_, let source):
            let loop = pool.eventLoop
            let waiting = NIOLoopBound((self, pending), eventLoop: loop)
            answers.keysRefetched = true
            let refetching = source.refetch { [answers] in
                loop.execute { waiting.value.0.resume(waiting.value.1, answers) }
            }
            guard !refetching, client.authenticationAnswered(pending) else { return }
            endWait()
            admit(request, answers: answers)
        case .password(let policy, let check):
            policy.checker.check(check.password, against: check.stored, key: check.key, client: clientIP, on: pool.eventLoop) { [self] result in
                answers.password = result
                self.resume(pending, answers)
            }
        }
    }

    /// The answer came for the request waiting on it: it goes on (or is refused), then the parts
    /// the client sent meanwhile are taken in turn.
    func resume(_ pending: PendingAuthentication, _ answers: AuthenticationAnswers) {
        // The client went, or the connection failed, while the answer was awaited.
        guard context != nil, client.authenticationAnswered(pending) else { return }
        endWait()
        admit(pending.request, answers: answers)
        answered(closing: false)
    }

    private func endWait() {
        // Reads held for another reason stay so; `resumeClientReads` tells the timeouts then.
        if !client.readsHeld { timeouts?.clientReadsHeld(false) }
    }

    /// Runs ip-restriction on the client address. Returns false when the request was answered
    /// with 403.
    func restrict(
        _ head: RequestHead, _ policy: IPRestrictionPolicy, address: String, answerHeaders: [(String, String)], metrics: PolicyMetrics
    ) -> Bool {
        let decision = policy.decide(address)
        metrics.count(.ipRestriction, decision.reason)
        guard decision != .allowed else { return true }
        measure.record?.policy = policy.name
        respondLocally(head, .forbidden, "forbidden", policy.message(decision, address: address), headers: answerHeaders)
        return false
    }

    /// Runs an acl on the consumer authentication went on with. Returns false when the request
    /// was answered with 403.
    func authorize(
        _ head: RequestHead, _ acl: ACLPolicy, consumer: CompiledConsumer?, answerHeaders: [(String, String)], metrics: PolicyMetrics
    ) -> Bool {
        let decision = acl.decide(consumer)
        metrics.count(.acl, decision.reason)
        guard decision != .allowed else { return true }
        measure.record?.policy = acl.name
        respondLocally(head, .forbidden, "forbidden", acl.message(decision, consumer: consumer), headers: answerHeaders)
        return false
    }

    /// Who the consumer is comes from the gateway only: the client's own identity headers are
    /// never copied on a route that authenticates.
    static func addConsumer(_ caller: Caller, to head: inout UpstreamRequestHead) {
        if let consumer = caller.consumer {
            head.add("x-consumer-id", consumer.id)
            head.add("x-consumer-name", consumer.name)
            if let customID = consumer.customID { head.add("x-consumer-custom-id", customID) }
        }
        if !caller.identified { head.add("x-anonymous-consumer", "true") }
        if let token = caller.token {
            if let subject = token.subject { head.add("x-token-subject", subject) }
            if let scopes = token.scopes { head.add("x-token-scopes", scopes) }
            for (name, value) in token.forwarded { head.add(name, value) }
        }
    }

    /// Counts the request with each limit in turn; on through to the upstream when none refuses.
    /// Local counts are taken on the spot; a Redis count resumes here when its answer arrives.
    func runLimits(_ exchange: Exchange, _ limits: [LimitPolicy], from start: Int, _ subject: LimitSubject, metrics: PolicyMetrics) {
        for index in start..<limits.count {
            let policy = limits[index]
            let key = subject.key(for: policy)
            let (window, reset) = policy.window(at: policy.now())
            switch policy.counter {
            case .local(let counters):
                guard counted(counters.increment(key, windowID: window), reset: reset, by: policy, exchange, metrics) else {
                    return uncount(exchange, limits, subject)
                }
            case .redis(let client):
                // Kept a little past its window, so a late request of a slow data plane still finds it.
                client.increment(policy.redisKey(key, window: window), ttl: .milliseconds(reset + 60_000), on: pool.eventLoop) {
                    [self] count in
                    // The client may have gone, or the gateway answered, while Redis was asked.
                    guard self.exchange === exchange else { return }
                    guard self.counted(count, reset: reset, by: policy, exchange, metrics) else {
                        return self.uncount(exchange, limits, subject)
                    }
                    exchange.countedWindows.append(window)
                    self.runLimits(exchange, limits, from: index + 1, subject, metrics: metrics)
                }
                return
            }
            exchange.countedWindows.append(window)
        }
        proceed(exchange)
    }

    /// A request one limit refused counts in none: the limits that counted it before (those of
    /// `countedWindows`, in order) take their count back, so a burst refused per second does
    /// not use the hour's allowance, nor a refused day the month's.
    private func uncount(_ exchange: Exchange, _ limits: [LimitPolicy], _ subject: LimitSubject) {
        for (policy, window) in zip(limits, exchange.countedWindows) {
            let key = subject.key(for: policy)
            switch policy.counter {
            case .local(let counters): counters.decrement(key, windowID: window)
            case .redis(let client): client.decrement(policy.redisKey(key, window: window), on: pool.eventLoop)
            }
        }
        exchange.countedWindows.removeAll()
    }

    /// Applies one limit's count: its headers, or the answer when over the limit or when it could
    /// not count and fails closed. Returns whether the request goes on.
    private func counted(_ count: Int?, reset: Int64, by policy: LimitPolicy, _ exchange: Exchange, _ metrics: PolicyMetrics) -> Bool {
        guard let count else {
            if policy.failOpen {
                metrics.failedOpen.wrappingIncrement(ordering: .relaxed)
                return true
            }
            metrics.failedClosed.wrappingIncrement(ordering: .relaxed)
            measure.record?.policy = policy.name
            failBeforeResponse(.serviceUnavailable, "limit_unavailable", "policy '\(policy.name)' cannot count requests now (Redis unreachable)")
            return false
        }
        let refused = count > policy.limit
        show(policy.headers(count: count, resetMilliseconds: reset), in: exchange, refusing: refused)
        guard !refused else {
            (policy.isQuota ? metrics.quotaExceeded : metrics.rateLimited).wrappingIncrement(ordering: .relaxed)
            measure.record?.policy = policy.name
            failBeforeResponse(
                .tooManyRequests, policy.isQuota ? "quota_exceeded" : "rate_limited", policy.refusalMessage,
                headers: [("retry-after", String((reset + 999) / 1000))])
            return false
        }
        return true
    }

    /// Adds one limit's headers (limit, remaining, reset). Where several limits of one kind
    /// count a request, the client hears of the one closest to refusing it (the lowest remaining,
    /// as the RateLimit header fields draft advises), or of the one that refused it.
    private func show(_ headers: [(String, String)], in exchange: Exchange, refusing: Bool) {
        guard let start = exchange.addedHeaders.firstIndex(where: { $0.0 == headers[0].0 }) else {
            exchange.addedHeaders += headers
            return
        }
        if refusing || (Int(headers[1].1) ?? 0) < (Int(exchange.addedHeaders[start + 1].1) ?? 0) {
            exchange.addedHeaders.replaceSubrange(start..<start + 3, with: headers)
        }
    }

    /// The client address limits count by: the peer, or for a trusted proxy the address it
    /// forwarded for.
    func limitClientIP(_ headers: RequestFields, peer: String, trusted: Bool) -> String {
        // The canonical form splits on commas and trims: its last element is the last address.
        guard trusted, let forwarded = headers[elements: "x-forwarded-for"].last, !forwarded.isEmpty else { return peer }
        return String(forwarded)
    }
}
