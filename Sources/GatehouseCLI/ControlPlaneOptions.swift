import ArgumentParser
import Foundation
import GatehouseAdmin
import GatehouseStore
import GatehouseModel
import GatehouseProxy
import Logging

/// The flags of a control plane, embedded (`serve`) or alone (`control-plane`): its database,
/// admin API, and the config directory that may own the config. Each also read from the
/// environment variable named in its help.
struct ControlPlaneOptions: ParsableArguments {
    @Option(help: "SQLite database file (GATEHOUSE_DB).")
    var db = EnvironmentDefault.value("GATEHOUSE_DB", "./gatehouse.db")

    @Option(help: "Admin API listen address; keep it on loopback unless it is protected (GATEHOUSE_ADMIN_LISTEN).")
    var adminListen = EnvironmentDefault.value("GATEHOUSE_ADMIN_LISTEN", ListenAddress(host: "127.0.0.1", port: 8001), expected: "host:port") {
        ListenAddress($0)
    }

    @Option(
        help:
            "Admin API authentication: auto (on when the admin API listens beyond loopback, a bootstrap token is given or admin tokens are stored), on, or off; off beyond loopback is refused (GATEHOUSE_ADMIN_AUTH)."
    )
    var adminAuth = EnvironmentDefault.value("GATEHOUSE_ADMIN_AUTH", AdminAuthMode.auto, expected: "auto, on or off") { AdminAuthMode(rawValue: $0) }

    @Option(help: "A file holding the bootstrap admin token, instead of GATEHOUSE_ADMIN_TOKEN (GATEHOUSE_ADMIN_TOKEN_FILE).")
    var adminTokenFile = EnvironmentDefault.value("GATEHOUSE_ADMIN_TOKEN_FILE", "")

    @Option(help: "Largest PUT /config body, in bytes or with KiB/MiB (GATEHOUSE_ADMIN_CONFIG_BODY_LIMIT).")
    var adminConfigBodyLimit = EnvironmentDefault.value("GATEHOUSE_ADMIN_CONFIG_BODY_LIMIT", ByteSize("64MiB")!, expected: "a size such as 64MiB") {
        ByteSize($0)
    }

    @Option(
        help:
            "Time an admin connection may go without a byte read or written, with no request being answered, before it is closed; so is one whose body was refused unread (GATEHOUSE_ADMIN_IDLE_TIMEOUT)."
    )
    var adminIdleTimeout = EnvironmentDefault.value("GATEHOUSE_ADMIN_IDLE_TIMEOUT", ConfigDuration("30s")!, expected: "a duration such as 30s") {
        ConfigDuration($0)
    }

    @Option(
        help:
            "Keep the documents of the newest N config versions; older ones stay listed in GET /versions as pruned and cannot be read or rolled back to. 0 keeps all (GATEHOUSE_HISTORY_KEEP)."
    )
    var historyKeep = EnvironmentDefault.value("GATEHOUSE_HISTORY_KEEP", 0, expected: "a number of versions, 0 or more") { text in
        Int(text).flatMap { $0 >= 0 ? $0 : nil }
    }

    @Option(
        help:
            "A directory of declarative files that owns the config: applied at start and on every change; admin writes are refused (GATEHOUSE_CONFIG_DIR)."
    )
    var configDir = EnvironmentDefault.value("GATEHOUSE_CONFIG_DIR", "")

    /// The admin API's settings these flags make.
    var adminOptions: AdminAPI.Options {
        var options = AdminAPI.Options()
        options.enforcedPolicyTypes = PolicyCatalog.enforcedTypes
        options.explain = Explainer.explain(_:body:)
        options.configBodyLimit = adminConfigBodyLimit.bytes
        if !configDir.isEmpty { options.managedBy = configDir }
        return options
    }

    /// The admin API's authentication these flags and the environment ask for; what they may
    /// not ask for is logged and ends the process with code 2.
    func adminAuthSettings(logger: Logger) throws -> AdminAuth.Settings {
        do {
            return try adminAuthSettings()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
    }

    /// Refuses an admin API beyond loopback without authentication, and a bootstrap token too
    /// short to be a secret.
    private func adminAuthSettings() throws(AdminAuthSetupError) -> AdminAuth.Settings {
        let bootstrap = try bootstrapToken()
        let enabled: Bool
        switch adminAuth {
        case .on: enabled = true
        // A bootstrap token given says the operator wants tokens: on loopback too (else any local
        // process could mint admin tokens that go on working once the API moves beyond it).
        case .auto: enabled = !adminListen.isLoopback || bootstrap != nil
        case .off:
            guard adminListen.isLoopback else {
                throw AdminAuthSetupError(
                    description:
                        "refusing to serve the admin API on \(adminListen) without authentication: anyone who can reach it could change or delete every route. Drop --admin-auth off (authentication is on by default beyond loopback) and set GATEHOUSE_ADMIN_TOKEN to a secret for the first start, or listen on 127.0.0.1"
                )
            }
            enabled = false
        }
        return AdminAuth.Settings(enabled: enabled, bootstrap: bootstrap)
    }

    /// The bootstrap token from `--admin-token-file` or `GATEHOUSE_ADMIN_TOKEN`, if any.
    private func bootstrapToken() throws(AdminAuthSetupError) -> String? {
        var bootstrap = ProcessInfo.processInfo.environment["GATEHOUSE_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if !adminTokenFile.isEmpty {
            guard let text = try? String(contentsOfFile: adminTokenFile, encoding: .utf8) else {
                throw AdminAuthSetupError(description: "cannot read the admin token file \(adminTokenFile)")
            }
            bootstrap = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let bootstrap, bootstrap.utf8.count < 16 || bootstrap.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw AdminAuthSetupError(description: "the bootstrap admin token must be 16 characters or more, without spaces: use e.g. `openssl rand -hex 32`")
        }
        return bootstrap
    }

    /// The settings the admin API serves with, once the database is open: under `auto`, admin
    /// tokens already stored turn authentication on too (they were made to be required; a local
    /// process must not mint more beside them). Refuses to start an admin API that would refuse
    /// everyone: authentication on, and no bootstrap token nor stored one. Exits with code 2,
    /// saying how to fix it.
    func checkedAdminAuth(_ settings: AdminAuth.Settings, store: ConfigStore?, logger: Logger) throws -> AdminAuth.Settings {
        var settings = settings
        guard let store else { return settings }
        if adminAuth == .auto, !settings.enabled, try store.adminTokens().contains(where: { $0.revokedAt == nil }) {
            settings.enabled = true
        }
        guard settings.enabled else { return settings }
        let auth = try AdminAuth(settings, store: store)
        guard auth.anyTokenAccepted else {
            logger.critical("\(AdminAuth.Unusable(bootstrapRevoked: auth.bootstrapIsRevoked))")
            throw ExitCode(2)
        }
        return settings
    }

    /// `--history-keep` as the store takes it: nil keeps every version's document.
    /// What seals certificate keys before they are stored: `GATEHOUSE_SECRET_KEY`, which the
    /// data planes need too. A value too short ends the process with a usage error.
    var sealer: KeySealer? {
        do {
            return try KeySealer.fromEnvironment()
        } catch {
            FileHandle.standardError.write(Data("Error: \(KeySealer.environmentVariable) \(error.message)\n".utf8))
            Foundation.exit(64)
        }
    }

    var historyRetention: Int? { historyKeep > 0 ? historyKeep : nil }

    func configDirectory(logger: Logger) -> ConfigDirectory? {
        configDir.isEmpty ? nil : ConfigDirectory(path: configDir, logger: logger)
    }
}

enum AdminAuthMode: String, ExpressibleByArgument, Sendable {
    case auto
    case on
    case off
}

struct AdminAuthSetupError: Error, CustomStringConvertible {
    let description: String
}
