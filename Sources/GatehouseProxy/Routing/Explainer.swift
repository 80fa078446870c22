import GatehouseHTTP1
import GatehouseModel
import GatehouseRedis
import Logging
import NIOCore
import NIOHTTP1

/// What the data plane would do with a request, told without sending it: which route matches
/// and why the others do not, the policy chain that would run, who the key identifies, and the
/// exact CORS answers a browser would get. Uses the same route table and policy code as the
/// proxy, so what it shows is what happens.
public enum Explainer {
    public struct Request: Sendable {
        public var method: String
        /// `http(s)://host[:port]/path?query`, or a path with a `Host` header.
        public var url: String
        public var headers: [(name: String, value: String)]
        /// The page's origin, for CORS.
        public var origin: String?
        /// The page's `fetch` sends credentials (cookies, `Authorization`).
        public var withCredentials = false
        /// The client's address as the data plane resolves it (the peer, or what a trusted
        /// proxy forwarded), for `ip-restriction`.
        public var clientIP: String?

        public init(method: String, url: String, headers: [(name: String, value: String)] = [], origin: String? = nil) {
            self.method = method
            self.url = url
            self.headers = headers
            self.origin = origin
        }

        /// From the JSON body of `POST /explain`.
        public static func read(_ value: JSONValue) throws(ConfigError) -> Request {
            var reader = try FieldReader(value)
            let method = try reader.string("method").uppercased()
            guard EntityName.isToken(method) else { throw .invalid("'\(method)' is not a method", field: "method") }
            var request = Request(method: method, url: try reader.string("url"), origin: try reader.optionalString("origin"))
            if var headers = try reader.optionalObject("headers") {
                for key in headers.keys.sorted() {
                    guard EntityName.isToken(key) else { throw .invalid("'\(key)' is not a header name", field: "headers") }
                    let value = try headers.string(key)
                    // As a request's parser would: no control characters but tab (a line break would split the field).
                    guard !value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else {
                        throw .invalid("the value of '\(key)' holds a control character", field: "headers")
                    }
                    request.headers.append((key, value))
                }
            }
            request.withCredentials = try reader.optionalBool("with_credentials") ?? false
            // Taken as a trusted proxy might forward it: what is not an address is shown refused,
            // as the data plane would refuse it.
            request.clientIP = try reader.optionalString("client_ip")
            try reader.finish()
            return request
        }
    }

    /// Compiles `snapshot` as a data plane would (its own counters, no connections made, and no
    /// certificate keys opened: routing does not read them) and explains the request in `body`
    /// (the JSON of `POST /explain`) against it.
    @Sendable public static func explain(_ snapshot: Snapshot, body: JSONValue) throws -> JSONValue {
        let request = try Request.read(body)
        let compiled: CompiledConfig
        var routing = snapshot
        if !snapshot.document.certificates.isEmpty {
            var document = snapshot.document
            document.certificates = []
            routing = Snapshot(version: snapshot.version, document: document)
        }
        do {
            compiled = try ConfigCompiler.compile(
                routing, policies: PolicyState(logger: Logger(label: "explain"), fetchesKeys: false),
                meters: RequestMetrics())
        } catch {
            throw ConfigError(code: .invalid, message: "the config cannot be compiled: \(error)")
        }
        return try explain(request, config: compiled)
    }

    /// The request as the proxy would read it: its bytes (a URL with a host stands for the Host
    /// header a client would send with it) through the proxy's parser and edge rules.
    private static func edgeHead(_ request: Request) -> Result<RequestHead, RequestRules.Refusal> {
        var fields = request.headers.filter { $0.name.lowercased() != "origin" || request.origin == nil }
        if let origin = request.origin { fields.append(("origin", origin)) }
        if !fields.contains(where: { $0.name.lowercased() == "host" }) {
            fields.append(("host", RequestTarget.originForm(request.url).authority ?? ""))
        }
        var bytes = ByteBuffer(string: "\(request.method) \(request.url) HTTP/1.1\r\n")
        for (name, value) in fields { bytes.writeString("\(name): \(value)\r\n") }
        bytes.writeString("\r\n")
        let options = ProxyOptions()
        var parser = RequestParser(limits: RequestParser.Limits(maxHeadBytes: options.maxHeaderBytes, maxFields: options.maxHeaderCount))
        do {
            guard case .head(let head) = try parser.next(&bytes) else {
                return .failure(RequestRules.refusal(RequestParseError(.headTooLarge, at: bytes.readerIndex)))
            }
            if let refusal = RequestRules.check(head, options: options) { return .failure(refusal) }
            return .success(head)
        } catch {
            return .failure(RequestRules.refusal(error))
        }
    }

    /// Routes listed with the reason they do not match; the rest are only counted.
    static let listedRoutes = 50

    public static func explain(_ request: Request, config: CompiledConfig) throws(ConfigError) -> JSONValue {
        var out: [String: JSONValue] = ["config_version": .int(config.version)]
        // The edge's checks come first, as on the proxy, on the bytes a client would send: a
        // request they refuse never reaches a route.
        let head: RequestHead
        switch edgeHead(request) {
        case .success(let parsed): head = parsed
        case .failure(let refusal):
            out["request"] = ["method": .string(request.method), "url": .string(request.url)]
            out["answer"] = ["status": .int(Int(refusal.status.code)), "reason": .string("refused by the edge: \(refusal.message)")]
            return .object(out)
        }
        let headers = head.fields
        let target: RequestTarget
        do {
            target = try RequestTarget(request.url)
        } catch {
            out["request"] = ["method": .string(request.method), "url": .string(request.url)]
            out["answer"] = ["status": 400, "reason": .string("refused by the edge: invalid request target: \(error)")]
            return .object(out)
        }
        let hostHeader = target.authority ?? headers.first(name: "host") ?? ""
        let host = RequestTarget.routingHost(hostHeader)
        out["request"] = ["method": .string(request.method), "host": .string(host), "path": .string(target.path)]
        let found = config.routes.match(host: host, path: target.path, method: request.method, header: { headers[name: $0] })
        out["routes"] = routeReasons(
            config.routes, winner: found?.entry.route, host: host, path: target.path, method: request.method, headers: headers)
        out["other_routes"] = .int(max(0, config.routes.routeCount - listedRoutes))
        // A preflight is routed by the method it asks for: the same route, when it matches.
        guard let found else {
            out["route"] = .null
            out["answer"] = ["status": 404, "reason": .string("no route matches \(request.method) \(target.path)")]
            return .object(out)
        }
        let route = found.entry.route
        let upstream = config.upstreams[route.upstream]
        out["route"] = [
            "name": .string(route.name), "upstream": .string(upstream.name),
            "forwarded_path": .string(UpstreamPath.forwarded(target.path, route: route, match: found)),
        ]
        guard let chain = route.policies else {
            out["policies"] = []
            out["cors"] = corsWithout(request, keyAuth: false)
            out["answer"] = ["status": .null, "reason": .string("proxied to upstream '\(upstream.name)'")]
            return .object(out)
        }
        var consumerID: String?
        var answer: JSONValue = ["status": .null, "reason": .string("proxied to upstream '\(upstream.name)'")]
        var refused = false
        if let restriction = chain.ipRestriction {
            out["ip_restriction"] = ipRestriction(restriction, request.clientIP)
            if let address = request.clientIP, restriction.decide(address) != .allowed {
                answer = ["status": 403, "reason": .string("ip-restriction '\(restriction.name)': address \(address) refused")]
                refused = true
            }
        }
        if chain.authenticates {
            let result: JSONValue
            switch AuthenticationDecision(chain, headers: headers, query: target.query, client: "", metrics: PolicyMetrics(), recording: false) {
            case .refused(let message, _, let reasons, let sent, let code, _):
                let tried: [JSONValue] = reasons.map { ["policy": .string($0.policy), "reason": .string($0.reason)] }
                let status = JSONValue.int(Int(code.code))
                result = [
                    "outcome": .string(code != .unauthorized ? "not_checked" : sent ? "invalid" : "missing"), "status": status,
                    "reason": .string(message), "policies": .array(tried),
                ]
                if !refused { answer = ["status": status, "reason": .string("authentication: \(message)")] }
                refused = true
            // explain never calls an authorization server nor checks a password: it says what the
            // gateway would do.
            case .wait(.introspection(let policy, _, _)):
                result = [
                    "outcome": "would_ask", "policy": .string(policy.name),
                    "reason": "no answer for this token is cached: the gateway would ask the authorization server, and the request would wait for its answer",
                ]
            case .wait(.keys(let policy, _)):
                result = [
                    "outcome": "would_fetch_keys", "policy": .string(policy.name),
                    "reason": "the token names a key the policy's key set lacks: the gateway would fetch the set again (at most once per cool-down) before deciding",
                ]
            case .wait(.password(let policy, _)):
                result = [
                    "outcome": "would_check", "policy": .string(policy.name),
                    "reason": "the password would be checked against the stored hash (explain does not check passwords)",
                ]
            case .caller(let caller):
                consumerID = caller.consumer?.id
                var fields: [String: JSONValue] = [
                    "outcome": .string(caller.identified ? "identified" : "anonymous"), "policy": .string(caller.policy),
                    "consumer": caller.consumer.map { .string($0.name) } ?? .null,
                ]
                if let token = caller.token {
                    fields["token"] = ["subject": token.subject.map(JSONValue.string) ?? .null, "scopes": token.scopes.map(JSONValue.string) ?? .null]
                }
                result = .object(fields)
            }
            out["authentication"] = result
        }
        let consumer = consumerID.flatMap { id in (chain.keyAuth?.consumers ?? chain.jwt?.consumers ?? chain.introspection?.consumers ?? chain.basicAuth?.consumers)?.byID[id] }
        if let acl = chain.acl {
            let decision = acl.decide(consumer)
            var fields: [String: JSONValue] = [
                "policy": .string(acl.name), "outcome": .string(decision.reason.label),
                "consumer": consumer.map { .string($0.name) } ?? .null,
                "groups": .array((consumer?.groups ?? []).map(JSONValue.string)),
                "rule": .string(
                    acl.allow.map { "allow \($0.sorted().joined(separator: ", "))" } ?? "deny \((acl.deny ?? []).sorted().joined(separator: ", "))"),
            ]
            if case .denied(let group) = decision { fields["reason"] = .string("consumer is in the denied group \(group)") }
            if decision == .notAllowed { fields["reason"] = "consumer is in none of the allowed groups" }
            if decision == .noConsumer { fields["reason"] = "no consumer is identified" }
            if decision == .allowed, !acl.hideGroupsHeader, let consumer, !consumer.groupsHeader.isEmpty {
                fields["forwards"] = ["x-consumer-groups": .string(consumer.groupsHeader)]
            }
            out["authorization"] = .object(fields)
            if decision != .allowed, !refused {
                answer = [
                    "status": 403, "reason": .string("acl '\(acl.name)': \(decision.reason.label.split(separator: "_").joined(separator: " "))"),
                ]
                refused = true
            }
        }
        let context = TransformContext(consumer: consumer, routeName: route.name, captures: found.captures)
        if let transform = chain.requestTransform { out["request_transform"] = requestTransform(transform, context) }
        if let transform = chain.responseTransform { out["response_transform"] = responseTransform(transform, context) }
        out["policies"] = .array(
            chain.steps(forConsumer: consumerID).map { step in
                ["phase": .string(step.phase.name), "type": .string(step.type.rawValue), "name": .string(step.name), "scope": .string(step.scope)]
            })
        out["rate_limits"] = .array(
            chain.limits(for: consumer).map { limit in
                [
                    "name": .string(limit.name), "limit": .int(limit.limit), "per": .string(limit.periodName),
                    "by": .string(limit.byName), "backend": .string(limit.backendName),
                ]
            })
        out["cors"] = chain.cors.map { cors(request, $0) } ?? corsWithout(request, keyAuth: chain.authenticates)
        out["answer"] = answer
        return .object(out)
    }

    private static func ipRestriction(_ policy: IPRestrictionPolicy, _ address: String?) -> JSONValue {
        guard let address else {
            return ["policy": .string(policy.name), "note": "no client address given: pass client_ip (--client-ip) to see the decision"]
        }
        let decision = policy.decide(address)
        let reason: String =
            switch decision {
            case .allowed: policy.allow.isEmpty ? "in no denied range" : "in an allowed range and no denied one"
            case .denied(let range): "in the denied range \(range)"
            case .notAllowed: "in none of the allowed ranges"
            case .unreadable: "not an address"
            }
        return ["policy": .string(policy.name), "address": .string(address), "outcome": .string(decision.reason.label), "reason": .string(reason)]
    }

    /// What the transform would do, values worked out for this request; a value that would not
    /// be written says why.
    private static func requestTransform(_ policy: RequestTransformPolicy, _ context: TransformContext) -> JSONValue {
        [
            "policy": .string(policy.name), "headers": operations(policy.headers, context),
            "query": operations(policy.query, context),
        ]
    }

    private static func responseTransform(_ policy: ResponseTransformPolicy, _ context: TransformContext) -> JSONValue {
        ["policy": .string(policy.name), "headers": operations(policy.headers, context), "applies_to": "the upstream's responses"]
    }

    private static func operations(_ ops: HeaderOperations, _ context: TransformContext) -> JSONValue {
        func values(_ list: [(name: String, value: TransformValue)]) -> JSONValue {
            .object(
                Dictionary(
                    list.map { name, value in
                        switch value.resolve(context) {
                        case .value(let text): (name, JSONValue.string(text))
                        case .missing: (name, ["dropped": "a variable has no value for this request"])
                        case .refused: (name, ["dropped": "the value would hold a control character"])
                        }
                    }, uniquingKeysWith: { a, _ in a }))
        }
        return [
            "remove": .array(ops.remove.map(JSONValue.string)),
            "rename": .object(Dictionary(ops.rename.map { ($0.from, JSONValue.string($0.to)) }, uniquingKeysWith: { a, _ in a })),
            "set": values(ops.set), "add": values(ops.add),
        ]
    }

    private static func cors(_ request: Request, _ policy: CORSPolicy) -> JSONValue {
        guard let origin = request.origin else {
            return ["policy": .string(policy.name), "note": "no origin given: pass the page's origin to see the browser's view"]
        }
        let preflight = CORSPolicy.needsPreflight(method: request.method, headers: request.headers)
        let unsafe = request.headers.map { $0.name.lowercased() }.filter { name in
            !["host", "origin", "accept", "accept-language", "content-language"].contains(name)
                && !(name == "content-type"
                    && !CORSPolicy.needsPreflight(method: "GET", headers: request.headers.filter { $0.name.lowercased() == name }))
        }
        var problems = policy.browserProblems(origin: origin, method: request.method, headers: unsafe, preflight: preflight)
        if request.withCredentials, policy.allows(origin), !policy.allowsCredentials {
            problems.append("the request sends credentials but allow_credentials is false")
        }
        var fields: [String: JSONValue] = [
            "policy": .string(policy.name), "origin": .string(origin), "origin_allowed": .bool(policy.allows(origin)),
            "preflight_sent": .bool(preflight),
            "actual": ["headers": headerObject(policy.actualHeaders(origin: origin))],
            "browser": .string(problems.isEmpty ? "allowed" : "blocked"), "problems": .array(problems.map(JSONValue.string)),
        ]
        if preflight {
            var asked: [(String, String)] = [("access-control-request-method", request.method)]
            if !unsafe.isEmpty { asked.append(("access-control-request-headers", unsafe.joined(separator: ","))) }
            fields["preflight"] = [
                "request": headerObject([("origin", origin)] + asked), "status": 204,
                "headers": headerObject(policy.preflightHeaders(origin: origin)),
            ]
        }
        return .object(fields)
    }

    private static func corsWithout(_ request: Request, keyAuth: Bool) -> JSONValue {
        guard request.origin != nil else { return .null }
        var note = "the route has no cors policy: the gateway adds no CORS headers, the upstream's answer decides"
        if keyAuth, CORSPolicy.needsPreflight(method: request.method, headers: request.headers) {
            note += "; its preflight (OPTIONS, no key) would go through key-auth and get 401, so browsers would block the request"
        }
        return ["policy": .null, "note": .string(note)]
    }

    private static func headerObject(_ headers: [(String, String)]) -> JSONValue {
        .object(Dictionary(headers.map { ($0.0, JSONValue.string($0.1)) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Why each route does or does not take the request, in document order (the first
    /// `listedRoutes`).
    private static func routeReasons(
        _ table: RouteTable, winner: CompiledRoute?, host: String, path: String, method: String, headers: RequestFields
    ) -> JSONValue {
        .array(
            table.all.prefix(listedRoutes).map { route in
                let reason: String
                if route === winner {
                    reason = "matches"
                } else if let mismatch = route.mismatch(host: host, path: path, method: method, headers: headers) {
                    reason = mismatch
                } else {
                    reason = "matches too, but route '\(winner?.name ?? "?")' takes precedence (docs/routing.md)"
                }
                return ["name": .string(route.name), "matched": .bool(route === winner), "reason": .string(reason)]
            })
    }
}

extension CompiledRoute {
    /// The first of its rules the request fails, or nil when it matches them all.
    func mismatch(host: String, path: String, method: String, headers: RequestFields) -> String? {
        if !hosts.isEmpty,
            !hosts.contains(where: { $0 == host || ($0.hasPrefix("*.") && host.hasSuffix($0.dropFirst(1)) && host.count > $0.count - 1) })
        {
            return "host '\(host)' is not one of \(hosts.joined(separator: ", "))"
        }
        if !paths.isEmpty, !paths.contains(where: { $0.matches(path) }) {
            return "path '\(path)' does not match \(paths.map(\.text).joined(separator: ", "))"
        }
        if !methods.isEmpty, !methods.contains(method) {
            return "method \(method) is not one of \(methods.sorted().joined(separator: ", "))"
        }
        for (name, allowed) in headers.sortedRules(self.headers) where !headers[name: name].contains(where: allowed.contains) {
            return "header \(name) is not one of \(allowed.sorted().joined(separator: ", "))"
        }
        return nil
    }
}

extension RequestFields {
    fileprivate func sortedRules(_ rules: [String: Set<String>]) -> [(String, Set<String>)] {
        rules.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

extension RoutePath {
    /// Whether this path matches `path` (a prefix at segment boundaries, or exactly for `=/x`).
    func matches(_ path: String) -> Bool {
        let requested: [Substring] = path == "/" ? [] : Array(path.dropFirst().split(separator: "/", omittingEmptySubsequences: false))
        if exact ? requested.count != segments.count : requested.count < segments.count { return false }
        for (segment, part) in zip(segments, requested) {
            switch segment {
            case .literal(let text): if part != text { return false }
            case .parameter: if part.isEmpty { return false }
            }
        }
        return true
    }
}

extension PolicyPhase {
    public var name: String {
        switch self {
        case .preflight: "cors-preflight"
        case .ipRestriction: "ip-restriction"
        case .authentication: "authentication"
        case .authorization: "authorization"
        case .validation: "validation"
        case .rateLimit: "rate-limit"
        case .requestTransform: "request-transform"
        case .responseTransform: "response-transform"
        case .log: "log"
        }
    }
}

extension LimitPolicy {
    var byName: String {
        switch by {
        case .consumer: "consumer (else client IP)"
        case .ip: "client IP"
        case .route: "route"
        case .header(let name): "header \(name) (else client IP)"
        }
    }

    var backendName: String {
        switch counter {
        case .local: "local"
        case .redis(let client): "redis \(client.address)"
        }
    }
}
