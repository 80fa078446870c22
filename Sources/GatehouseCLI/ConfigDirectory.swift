import Foundation
import GatehouseDeclarative
import GatehouseModel
import GatehouseStore
import Logging
import ServiceLifecycle

/// `--config-dir`: the directory's declarative files are the config. They are applied at start and
/// again whenever their content changes (as a git-sync sidecar updates them): a valid change
/// becomes one version; an invalid one is refused with its problems logged, and the last good
/// config keeps serving. Checked every second. The files are read as `gatehouse validate` reads
/// them (`DeclarativeSource.load`): a YAML alias bomb or a too-deep file is refused before
/// anything is built, so it costs the server no memory.
struct ConfigDirectory: Sendable {
    let path: String
    let logger: Logger

    func run(_ store: ConfigStore) async {
        var applied: Int?
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let fingerprint = Self.fingerprint(path)
            if fingerprint != applied {
                applied = fingerprint
                apply(to: store)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }

    /// Changes whenever a file is added, removed or edited (within this process).
    static func fingerprint(_ path: String) -> Int {
        var hasher = Hasher()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        for name in names where [".yaml", ".yml", ".json"].contains(where: name.hasSuffix) {
            hasher.combine(name)
            hasher.combine(FileManager.default.contents(atPath: path + "/" + name))
        }
        return hasher.finalize()
    }

    func apply(to store: ConfigStore) {
        let environment = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("GATEHOUSE_") }
        var (source, problems) = DeclarativeSource.load([path], environment: environment)
        var checked: ConfigDocument?
        if problems.isEmpty {
            let result = source.check()
            checked = result.document
            problems = result.problems
        }
        guard let checked, problems.isEmpty else {
            logger.error(
                "config directory refused; the last good config keeps serving",
                metadata: ["dir": "\(path)", "problems": "\(problems.map(\.description).joined(separator: "; "))"])
            return
        }
        do {
            let (changed, snapshot) = try store.write(
                summary: "config directory \(path)", author: Author(name: "config-dir", address: "", via: "config directory"), skipIfUnchanged: true
            ) { document -> Bool in
                var new = checked
                new.adoptIdentities(from: document, newID: { UUID().uuidString.lowercased() })
                new.sort()
                try new.validate()
                let changed = new != document
                document = new
                return changed
            }
            logger.info(
                changed ? "config directory applied" : "config directory unchanged", metadata: ["dir": "\(path)", "version": "\(snapshot.version)"])
        } catch {
            logger.error(
                "config directory refused; the last good config keeps serving",
                metadata: ["dir": "\(path)", "problems": "\(source.redacted("\(error)"))"])
        }
    }
}
