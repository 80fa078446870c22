import CHeapStats
import GatehouseModel
import GatehouseProxy
import Logging

/// `gatehouse-bench ROUTES`: compiles a snapshot of ROUTES routes (`/svc0` … as bench/run.sh
/// writes them) into the data plane's table, and prints the compile time and the heap the
/// compiled config keeps once the snapshot it came from is released: the data plane's memory per
/// route, apart from everything else a process holds.
@main
struct GatehouseBench {
    static func heapBytes() -> Int { Int(heap_stats_bytes_in_use()) }

    static func snapshot(routes count: Int) throws -> Snapshot {
        var document = ConfigDocument()
        document.upstreams = [try Upstream.read(["name": "bench", "targets": [["target": "127.0.0.1:9000"]]], id: uuid(0))]
        document.routes = try (0..<count).map { index in
            try Route.read(
                ["name": .string("svc\(index)"), "paths": [.string("/svc\(index)")], "strip_path": true, "upstream": "bench"], id: uuid(index + 1))
        }
        return Snapshot(version: 1, document: document)
    }

    static func uuid(_ n: Int) -> String {
        let digits = String(n)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - digits.count) + digits
    }

    static func main() throws {
        let count = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 10_000
        let policyState = PolicyState(logger: Logger(label: "bench"))
        let before = heapBytes()
        var compiled: CompiledConfig?
        var milliseconds: Int64 = 0
        do {
            let snapshot = try snapshot(routes: count)
            let started = ContinuousClock.now
            compiled = try ConfigCompiler.compile(snapshot, policies: policyState, meters: RequestMetrics())
            milliseconds =
                (ContinuousClock.now - started).components.seconds * 1000
                + (ContinuousClock.now - started).components.attoseconds / 1_000_000_000_000_000
        }
        let kept = heapBytes() - before
        print(
            "routes=\(count) compile_ms=\(milliseconds) compiled_bytes=\(kept) bytes_per_route=\(kept / max(count, 1)) served=\(compiled?.routes.routeCount ?? 0)"
        )
    }
}
