/// Where traffic goes: a set of targets and how to choose among them.
public struct Upstream: Sendable, Hashable {
    public enum Scheme: String, Sendable, CaseIterable { case http, https }

    public enum Algorithm: String, Sendable, CaseIterable {
        case roundRobin = "round-robin"
        case weighted
        case leastConnections = "least-connections"
        case consistentHash = "consistent-hash"
    }

    /// What `consistent-hash` hashes: the client IP, the request path, or a header's value.
    public enum HashOn: Sendable, Hashable {
        case ip
        case path
        case header(String)

        init?(_ text: String) {
            switch text {
            case "ip": self = .ip
            case "path": self = .path
            default:
                guard text.hasPrefix("header:"), EntityName.isToken(String(text.dropFirst(7))) else { return nil }
                self = .header(String(text.dropFirst(7)).lowercased())
            }
        }

        var text: String {
            switch self {
            case .ip: "ip"
            case .path: "path"
            case .header(let name): "header:\(name)"
            }
        }
    }

    public struct Timeouts: Sendable, Hashable {
        public var connect: Duration = .seconds(5)
        public var read: Duration = .seconds(60)
        public var write: Duration = .seconds(60)
        public init() {}
    }

    public var header: EntityHeader
    public var targets: [UpstreamTarget]
    public var scheme: Scheme = .http
    public var algorithm: Algorithm = .roundRobin
    public var hashOn: HashOn?
    public var timeouts = Timeouts()
    /// Other targets tried after a failed attempt; nil is the default: a connect that failed
    /// (nothing reached the upstream) is tried on every other target, whatever the method, and
    /// nothing is tried again once the request was sent. 0 turns failover off.
    public var retries: Int?
    public var pool = Pool()
    /// How `https` upstreams are verified.
    public var tls = TLS()

    /// Certificate verification for `https` targets: on by default, against the system's trust
    /// roots plus `caCertificates` (PEM); `serverName` overrides the name checked and sent as SNI
    /// (default: the target's host).
    public struct TLS: Sendable, Hashable {
        public var verify = true
        public var caCertificates: String?
        public var serverName: String?
    }

    /// Keep-alive connections per target and per worker (event loop). With `maxConnections` set,
    /// a request finding them all busy waits for one, up to the connect timeout.
    public struct Pool: Sendable, Hashable {
        public var maxConnections: Int?
        public var maxIdle = 64
        public var idleTimeout: Duration = .seconds(60)
        public init() {}
    }

    /// Passive health checking: nil when off.
    public var passiveHealth: PassiveHealth?
    /// Active health checking: nil when off.
    public var activeHealth: ActiveHealth?

    /// A `GET path` to each target every `interval`; a target is out of rotation after
    /// `unhealthy` failed probes in a row (no answer within `timeout`, or a status outside
    /// 200–399) and back after `healthy` good ones.
    public struct ActiveHealth: Sendable, Hashable {
        public var path = "/"
        public var interval: Duration = .seconds(5)
        public var timeout: Duration = .seconds(1)
        public var healthy = 2
        public var unhealthy = 3
    }

    /// After `failures` consecutive failed attempts (refused, reset, or timed out before a
    /// response) a target is left out of rotation for `cooldown`. On by default.
    public struct PassiveHealth: Sendable, Hashable {
        public var failures = 3
        public var cooldown: Duration = .seconds(10)
        public init() {}
    }

    public var id: String { header.id }
    public var name: String { header.name }

    public init(header: EntityHeader, targets: [UpstreamTarget]) {
        self.header = header
        self.targets = targets
    }

    /// Reads an upstream from its JSON form. `id` is nil for documents (the id is read from them).
    public static func read(_ value: JSONValue, id: String? = nil, path: String = "") throws(ConfigError) -> Upstream {
        var reader = try FieldReader(value, path: path)
        let header = try EntityHeader.read(&reader, id: id)
        var targets: [UpstreamTarget] = []
        for (index, item) in (try reader.optionalArray("targets") ?? []).enumerated() {
            let target = try UpstreamTarget.read(item, field: "\(reader.field("targets"))[\(index)]")
            if targets.contains(where: { $0.host == target.host && $0.port == target.port }) {
                throw .invalid("target '\(target.target)' is listed twice", field: "\(reader.field("targets"))[\(index)]")
            }
            targets.append(target)
        }
        var upstream = Upstream(header: header, targets: targets)
        if let text = try reader.optionalString("scheme") {
            guard let scheme = Scheme(rawValue: text) else { throw .invalid("must be http or https", field: reader.field("scheme")) }
            upstream.scheme = scheme
        }
        if let text = try reader.optionalString("algorithm") {
            guard let algorithm = Algorithm(rawValue: text) else {
                throw .invalid("must be one of \(Algorithm.allCases.map(\.rawValue).joined(separator: ", "))", field: reader.field("algorithm"))
            }
            upstream.algorithm = algorithm
        }
        if let text = try reader.optionalString("hash_on") {
            guard let hashOn = HashOn(text) else { throw .invalid("must be ip, path or header:NAME", field: reader.field("hash_on")) }
            upstream.hashOn = hashOn
        }
        if upstream.algorithm == .consistentHash, upstream.hashOn == nil {
            throw .invalid("is required with the consistent-hash algorithm", field: reader.field("hash_on"))
        }
        if upstream.algorithm != .consistentHash, upstream.hashOn != nil {
            throw .invalid("applies only to the consistent-hash algorithm", field: reader.field("hash_on"))
        }
        if var timeouts = try reader.optionalObject("timeouts") {
            upstream.timeouts.connect = try positive(timeouts.optionalDuration("connect"), &timeouts, "connect") ?? upstream.timeouts.connect
            upstream.timeouts.read = try positive(timeouts.optionalDuration("read"), &timeouts, "read") ?? upstream.timeouts.read
            upstream.timeouts.write = try positive(timeouts.optionalDuration("write"), &timeouts, "write") ?? upstream.timeouts.write
            try timeouts.finish()
        }
        upstream.retries = try reader.optionalInt("retries", in: 0...10)
        if var pool = try reader.optionalObject("pool") {
            upstream.pool.maxConnections = try pool.optionalInt("max_connections", in: 1...100_000)
            upstream.pool.maxIdle = try pool.optionalInt("max_idle", in: 0...100_000) ?? upstream.pool.maxIdle
            upstream.pool.idleTimeout = try positive(pool.optionalDuration("idle_timeout"), &pool, "idle_timeout") ?? upstream.pool.idleTimeout
            try pool.finish()
        }
        if var tls = try reader.optionalObject("tls") {
            upstream.tls.verify = try tls.optionalBool("verify") ?? true
            if let pem = try tls.optionalString("ca_certificates") {
                guard pem.contains("-----BEGIN CERTIFICATE-----") else {
                    throw .invalid("must hold PEM certificates (-----BEGIN CERTIFICATE-----)", field: tls.field("ca_certificates"))
                }
                upstream.tls.caCertificates = pem
            }
            if let name = try tls.optionalString("server_name") {
                guard UpstreamTarget.isHostName(Substring(name)) else {
                    throw .invalid("'\(name)' is not a host name", field: tls.field("server_name"))
                }
                upstream.tls.serverName = name.lowercased()
            }
            try tls.finish()
            if upstream.scheme == .http, upstream.tls != TLS() {
                throw .invalid("applies to https upstreams only", field: reader.field("tls"))
            }
        }
        // Passive health is on unless turned off: `"enabled": false`, or `null` (how documents
        // of releases where it was off by default say so, so their hashes stay as they were).
        upstream.passiveHealth = PassiveHealth()
        if var checks = try reader.optionalObject("health_checks") {
            if checks.isNull("passive") {
                upstream.passiveHealth = nil
            } else if var passive = try checks.optionalObject("passive") {
                var health = PassiveHealth()
                let enabled = try passive.optionalBool("enabled") ?? true
                health.failures = try passive.optionalInt("failures", in: 1...1000) ?? health.failures
                health.cooldown = try positive(passive.optionalDuration("cooldown"), &passive, "cooldown") ?? health.cooldown
                try passive.finish()
                upstream.passiveHealth = enabled ? health : nil
            }
            if var active = try checks.optionalObject("active") {
                var health = ActiveHealth()
                let path = try active.string("path")
                guard path.hasPrefix("/"), path.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                    throw .invalid("'\(path)' must be a path starting with /", field: active.field("path"))
                }
                health.path = path
                health.interval = try positive(active.optionalDuration("interval"), &active, "interval") ?? health.interval
                health.timeout = try positive(active.optionalDuration("timeout"), &active, "timeout") ?? health.timeout
                health.healthy = try active.optionalInt("healthy", in: 1...100) ?? health.healthy
                health.unhealthy = try active.optionalInt("unhealthy", in: 1...100) ?? health.unhealthy
                try active.finish()
                upstream.activeHealth = health
            }
            try checks.finish()
        }
        try reader.finish()
        return upstream
    }

    private static func positive(_ duration: Duration?, _ reader: inout FieldReader, _ key: String) throws(ConfigError) -> Duration? {
        if let duration, duration <= .zero { throw .invalid("must be greater than zero", field: reader.field(key)) }
        return duration
    }

    public func json() -> JSONValue {
        var fields = header.fields()
        fields["targets"] = .array(targets.map { $0.json() })
        fields["scheme"] = .string(scheme.rawValue)
        fields["algorithm"] = .string(algorithm.rawValue)
        fields["hash_on"] = hashOn.map { .string($0.text) } ?? .null
        fields["timeouts"] = [
            "connect": .string(timeouts.connect.configText),
            "read": .string(timeouts.read.configText),
            "write": .string(timeouts.write.configText),
        ]
        fields["retries"] = retries.map(JSONValue.int) ?? .null
        fields["pool"] = [
            "max_connections": pool.maxConnections.map(JSONValue.int) ?? .null, "max_idle": .int(pool.maxIdle),
            "idle_timeout": .string(pool.idleTimeout.configText),
        ]
        fields["tls"] = [
            "verify": .bool(tls.verify), "ca_certificates": tls.caCertificates.map(JSONValue.string) ?? .null,
            "server_name": tls.serverName.map(JSONValue.string) ?? .null,
        ]
        fields["health_checks"] = [
            "passive": passiveHealth.map { ["failures": .int($0.failures), "cooldown": .string($0.cooldown.configText)] } ?? .null,
            "active": activeHealth.map {
                [
                    "path": .string($0.path), "interval": .string($0.interval.configText), "timeout": .string($0.timeout.configText),
                    "healthy": .int($0.healthy), "unhealthy": .int($0.unhealthy),
                ]
            } ?? .null,
        ]
        return .object(fields)
    }
}
