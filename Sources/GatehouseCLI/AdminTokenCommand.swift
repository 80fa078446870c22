import ArgumentParser
import Foundation
import GatehouseModel

/// `gatehouse admin-token create|list|revoke`, through the admin API (the admin role).
struct AdminTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-token", abstract: "Create, list and revoke admin API tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; it is printed once and never shown again.")

        @Option(help: "The token's name, shown in the audit trail of the versions it makes.") var name: String
        @Option(help: "viewer (reads, explain, dry runs), editor (config writes, rollback) or admin (also tokens).") var role: String
        @OptionGroup var target: AdminTarget

        func run() async throws {
            let answer = try await target.client.fetch("POST", "/admin-tokens", body: ["name": .string(name), "role": .string(role)], expected: 201)
            FileHandle.standardError.write(Data("created \(answer["role"]?.stringValue ?? role) token '\(name)'; keep it now, it is not shown again:\n".utf8))
            print(answer["token"]?.stringValue ?? "")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accepted tokens (never their secrets).")

        @OptionGroup var target: AdminTarget

        func run() async throws {
            let answer = try await target.client.fetch("GET", "/admin-tokens")
            for token in answer["data"]?.arrayValue ?? [] {
                let created = (token["created_at"]?.intValue).map { $0 == 0 ? "from the environment" : "created \(Log.time($0))" } ?? ""
                print(
                    [token["id"]?.stringValue ?? "", token["name"]?.stringValue ?? "", token["role"]?.stringValue ?? "", created,
                        "by \(token["created_by"]?.stringValue ?? "")"].joined(separator: "  "))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id or name (`bootstrap` for GATEHOUSE_ADMIN_TOKEN's).")

        @Argument(help: "The token's id or name.") var token: String
        @OptionGroup var target: AdminTarget

        func run() async throws {
            let path = "/admin-tokens/" + (token.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? token)
            _ = try await target.client.fetch("DELETE", path, expected: 204)
            FileHandle.standardError.write(Data("revoked '\(token)'\n".utf8))
        }
    }
}
