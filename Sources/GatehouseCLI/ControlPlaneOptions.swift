import ArgumentParser
import GatehouseAdmin
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

    /// `--history-keep` as the store takes it: nil keeps every version's document.
    var historyRetention: Int? { historyKeep > 0 ? historyKeep : nil }

    func configDirectory(logger: Logger) -> ConfigDirectory? {
        configDir.isEmpty ? nil : ConfigDirectory(path: configDir, logger: logger)
    }
}
