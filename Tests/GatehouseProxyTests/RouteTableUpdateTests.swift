import GatehouseModel
import Testing

@testable import GatehouseProxy

/// A table updated from the one before (as a data plane does for each change) answers as one
/// built whole, and the table it was made from answers as it did: requests in flight still read it.
@Suite struct RouteTableUpdateTests {
    /// Deterministic (a fixed seed), so a failure repeats.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        mutating func pick<T>(_ values: [T]) -> T { values[next(values.count)] }
    }

    static let hosts = ["api.test", "www.test", "*.test", "*.a.test"]
    static let paths = ["/", "/a", "/a/b", "=/a", "/a/{id}", "/a/{id}/c", "/b/{x}/{y}", "=/b/{x}", "/c"]
    static let methods = ["GET", "POST"]
    static let probes: [(host: String, path: String, method: String)] = {
        var probes: [(String, String, String)] = []
        for host in ["api.test", "www.test", "x.a.test", "other.test", "z.test"] {
            for path in ["/", "/a", "/a/b", "/a/7", "/a/7/c", "/a/7/c/d", "/b/1/2", "/b/1", "/c/d", "/d"] {
                for method in methods + ["PUT"] { probes.append((host, path, method)) }
            }
        }
        return probes
    }()

    static func randomRoute(_ name: String, _ random: inout Generator) throws -> CompiledRoute {
        var route = Route(header: EntityHeader(id: name, name: name), upstream: "u")
        route.hosts = Array(Set((0..<random.next(3)).map { _ in random.pick(hosts) })).sorted()
        route.paths = Array(Set((0..<random.next(3)).map { _ in random.pick(paths) })).sorted()
        route.methods = random.next(3) == 0 ? [random.pick(methods)] : []
        if random.next(4) == 0 { route.headers = ["x-v": ["2"]] }
        return CompiledRoute(route, upstream: 0, meters: RequestMetrics())
    }

    static func answers(_ table: RouteTable) -> [String] {
        probes.map { probe in
            guard let found = table.match(host: probe.host, path: probe.path, method: probe.method, header: { $0 == "x-v" ? ["2"] : [] }) else {
                return "-"
            }
            return "\(found.entry.route.name) \(found.matchedLength) \(found.captures.map { "\($0.name)=\($0.value)" })"
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func anUpdatedTableAnswersAsOneBuiltWholeAndTheOneBeforeIsUnchanged(seed: UInt64) throws {
        var random = Generator(state: seed)
        var routes = try (0..<40).map { try Self.randomRoute("r\($0)", &random) }
        var table = RouteTable(routes: routes)
        var created = 40
        for _ in 0..<60 {
            let before = table
            let answeredBefore = Self.answers(before)
            var (removed, added): ([CompiledRoute], [CompiledRoute]) = ([], [])
            for _ in 0..<(1 + random.next(4)) {
                switch random.next(3) {
                case 0 where !routes.isEmpty:
                    removed.append(routes.remove(at: random.next(routes.count)))
                case 1 where !routes.isEmpty:
                    let index = random.next(routes.count)
                    removed.append(routes[index])
                    routes[index] = try Self.randomRoute(routes[index].name, &random)
                    added.append(routes[index])
                default:
                    routes.append(try Self.randomRoute("r\(created)", &random))
                    added.append(routes[routes.count - 1])
                    created += 1
                }
            }
            // A route both put in and taken out by this batch (created, then changed) was never in.
            let transient = removed.filter { gone in added.contains { $0 === gone } }
            removed.removeAll { gone in transient.contains { $0 === gone } }
            added.removeAll { new in transient.contains { $0 === new } }
            table = before.updating(to: routes, removing: removed, adding: added)
            #expect(Self.answers(table) == Self.answers(RouteTable(routes: routes)))
            #expect(Self.answers(before) == answeredBefore)
        }
        // Deleting every route leaves a table that matches nothing.
        let empty = table.updating(to: [], removing: routes, adding: [])
        #expect(Self.answers(empty).allSatisfy { $0 == "-" })
    }
}
