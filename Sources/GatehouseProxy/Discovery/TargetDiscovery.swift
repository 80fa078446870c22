import Atomics
import GatehouseDNS
import GatehouseModel
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Keeps the addresses of upstream targets given as DNS names fresh: `/etc/hosts` first, then
/// A and AAAA records, or SRV records for service names. Each answer is asked again when its TTL
/// runs out (at least 1 s, at most 1 h); a failed lookup keeps the last answer and is retried
/// after 5 s, while a name error or an empty answer is an answer (no addresses), asked again
/// after 5 s. Lives outside the snapshots, shared by all of them. Thread-safe.
public final class TargetDiscovery: Sendable {
    /// A name to resolve: for addresses, or (for `_service._proto.name`) for SRV records.
    struct Question: Hashable, Sendable {
        let name: String
        let service: Bool

        init(_ target: UpstreamTarget) {
            name = target.host
            service = target.isService
        }

        init(name: String, service: Bool) {
            self.name = name
            self.service = service
        }
    }

    /// One address a name resolved to; SRV answers bring their own port and weight.
    struct Address: Hashable, Sendable {
        let address: String
        let port: Int?
        let weight: Int?
        /// The name the address belongs to: sent as `Host` and SNI.
        let name: String
    }

    private struct Entry {
        var addresses: [Address]?
        var due: NIODeadline
    }

    static let retryDelay = TimeAmount.seconds(5)
    static let ttlRange = TimeAmount.seconds(1)...TimeAmount.hours(1)

    private let client: DNSClient
    private let hostsFile: String
    private let logger: Logger
    private let entries = NIOLockedValueBox<[Question: Entry]>([:])
    private let failures = ManagedAtomic(0)

    /// Lookups that failed (no server answered, or none usefully) since start.
    public var failedLookups: Int { failures.load(ordering: .relaxed) }

    /// - Parameter servers: name servers to ask; empty means those of `/etc/resolv.conf`.
    public init(servers: [SocketAddress], group: any EventLoopGroup, hostsFile: String = "/etc/hosts", logger: Logger) {
        let servers = servers.isEmpty ? SystemResolverFiles.nameServers(resolvConf: SystemResolverFiles.read("/etc/resolv.conf")) : servers
        client = DNSClient(servers: servers, group: group)
        self.hostsFile = hostsFile
        self.logger = logger
    }

    /// The names a document's upstreams need resolved.
    static func questions(in document: ConfigDocument) -> Set<Question> {
        Set(document.upstreams.flatMap { $0.targets.filter { !$0.isIPAddress && $0.weight > 0 }.map(Question.init) })
    }

    /// Every answer known now, for compiling.
    var answers: [Question: [Address]] {
        entries.withLockedValue { $0.compactMapValues(\.addresses) }
    }

    /// Resolves the questions never asked before, so a new snapshot compiles with their answers.
    func prepare(_ questions: Set<Question>) async {
        let known = entries.withLockedValue { Set($0.keys) }
        await refresh(questions.subtracting(known))
    }

    /// Forgets every question but these (those of the config being served).
    func retain(_ questions: Set<Question>) {
        entries.withLockedValue { entries in entries = entries.filter { questions.contains($0.key) } }
    }

    /// Asks again each question whose answer ran out, until cancelled; calls `changed` after a
    /// round in which some answer changed.
    func run(changed: @Sendable () -> Void) async {
        while !Task.isCancelled {
            let now = NIODeadline.now()
            let due = entries.withLockedValue { entries in Set(entries.filter { $0.value.due <= now }.keys) }
            if await refresh(due) { changed() }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Resolves `questions` concurrently and records the answers. Returns whether any changed.
    @discardableResult
    private func refresh(_ questions: Set<Question>) async -> Bool {
        guard !questions.isEmpty else { return false }
        let hosts = SystemResolverFiles.hosts(SystemResolverFiles.read(hostsFile))
        return await withTaskGroup(of: Bool.self) { group in
            for question in questions {
                group.addTask { await self.update(question, hosts: hosts) }
            }
            return await group.reduce(false) { $0 || $1 }
        }
    }

    private func update(_ question: Question, hosts: [String: [String]]) async -> Bool {
        let result = await resolve(question, hosts: hosts)
        let changed = entries.withLockedValue { entries -> Bool in
            let previous = entries[question]?.addresses
            switch result {
            case .success(let (addresses, ttl)):
                let clamped = min(max(ttl, Self.ttlRange.lowerBound), Self.ttlRange.upperBound)
                entries[question] = Entry(addresses: addresses, due: .now() + (addresses.isEmpty ? Self.retryDelay : clamped))
                return addresses != previous
            case .failure:
                entries[question] = Entry(addresses: previous, due: .now() + Self.retryDelay)
                return false
            }
        }
        switch result {
        case .success(let (addresses, _)) where changed:
            logger.info(
                "target resolved", metadata: ["name": "\(question.name)", "addresses": "\(addresses.map(\.address).joined(separator: ","))"])
        case .failure(let error):
            failures.wrappingIncrement(ordering: .relaxed)
            logger.warning(
                "resolving a target failed; its last addresses stay in use", metadata: ["name": "\(question.name)", "error": "\(error.description)"])
        default:
            break
        }
        return changed
    }

    private func resolve(_ question: Question, hosts: [String: [String]]) async -> Result<([Address], TimeAmount), DNSClient.Failure> {
        do {
            if question.service { return .success(try await services(question.name, hosts: hosts)) }
            return .success(try await addresses(question.name, hosts: hosts))
        } catch {
            return .failure(error)
        }
    }

    /// A and AAAA, asked together; one of them failing still gives the other's addresses.
    private func addresses(_ name: String, hosts: [String: [String]]) async throws(DNSClient.Failure) -> ([Address], TimeAmount) {
        if let listed = hosts[name] {
            return (listed.map { Address(address: $0, port: nil, weight: nil, name: name) }, Self.retryDelay)
        }
        async let v4 = ask(name, .a)
        async let v6 = ask(name, .aaaa)
        let results = await [v4, v6]
        let answers = results.compactMap { try? $0.get() }
        if answers.isEmpty, case .failure(let failure) = results[0] { throw failure }
        var found: [Address] = []
        var ttl = UInt32.max
        for answer in answers {
            let (records, chainTTL) = Self.records(answer.answers, for: name)
            for record in records {
                guard case .address(let address) = record.data else { continue }
                found.append(Address(address: address, port: nil, weight: nil, name: name))
                ttl = min(ttl, record.ttl, chainTTL)
            }
        }
        return (found, ttl == .max ? Self.retryDelay : .seconds(Int64(ttl)))
    }

    private func ask(_ name: String, _ type: DNSMessage.RecordType) async -> Result<DNSMessage, DNSClient.Failure> {
        do {
            return .success(try await client.ask(name, type))
        } catch {
            return .failure(error)
        }
    }

    /// SRV records of the lowest priority (RFC 2782), each target's addresses from the additional
    /// section when the server sent them, else looked up.
    private func services(_ name: String, hosts: [String: [String]]) async throws(DNSClient.Failure) -> ([Address], TimeAmount) {
        let answer = try await client.ask(name, .srv)
        let (records, chainTTL) = Self.records(answer.answers, for: name)
        var services: [(priority: UInt16, weight: UInt16, port: UInt16, target: String, ttl: UInt32)] = []
        for record in records {
            if case .service(let priority, let weight, let port, let target) = record.data, !target.isEmpty {
                services.append((priority, weight, port, target, min(record.ttl, chainTTL)))
            }
        }
        guard let lowest = services.map(\.priority).min() else { return ([], Self.retryDelay) }
        services.removeAll { $0.priority != lowest }
        // Weights as the balancer takes them (1…1000), in the same proportions.
        let heaviest = max(Int(services.map(\.weight).max() ?? 0), 1)
        var found: [Address] = []
        var ttl = TimeAmount.seconds(Int64(services.map(\.ttl).min() ?? 0))
        for service in services {
            let weight = max(1, heaviest > 1000 ? Int(service.weight) * 1000 / heaviest : Int(service.weight))
            var addresses = answer.additional.compactMap { record -> String? in
                guard record.name == service.target, case .address(let address) = record.data else { return nil }
                return address
            }
            if addresses.isEmpty {
                let (resolved, addressTTL) = try await self.addresses(service.target, hosts: hosts)
                addresses = resolved.map(\.address)
                ttl = min(ttl, addressTTL)
            }
            found += addresses.map { Address(address: $0, port: Int(service.port), weight: weight, name: service.target) }
        }
        return (found, ttl)
    }

    /// The records for `name` after following its CNAME chain, and the chain's lowest TTL.
    private static func records(_ records: [DNSMessage.Record], for name: String) -> ([DNSMessage.Record], UInt32) {
        var current = name
        var ttl = UInt32.max
        // A chain is short; the bound only stops a looping one.
        for _ in 0..<16 {
            guard let alias = records.first(where: { $0.name == current && $0.type == DNSMessage.RecordType.cname.rawValue }),
                case .alias(let target) = alias.data
            else { break }
            ttl = min(ttl, alias.ttl)
            current = target
        }
        return (records.filter { $0.name == current && $0.type != DNSMessage.RecordType.cname.rawValue }, ttl)
    }
}
