import ArgumentParser
import GatehouseModel

@main
struct Gatehouse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "An API gateway: a control plane on SQLite feeding data planes that swap config atomically.",
        discussion: """
            Start with `gatehouse serve`: the admin API on 127.0.0.1:8001 stores routes and upstreams in \
            ./gatehouse.db, and the proxy on port 8000 serves them. See README.md for a quickstart.
            """,
        version: GatehouseVersion.current,
        subcommands: [Serve.self, ControlPlane.self, DataPlane.self, Validate.self, Diff.self, Sync.self, Dump.self, Import.self, Explain.self, AdminTokenCommand.self, Log.self, Show.self]
    )
}
