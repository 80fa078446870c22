import ArgumentParser
import Foundation
import GatehouseModel

/// `gatehouse log`: the config's history one version a line, newest first, as `git log --oneline`
/// prints commits: version, hash, time, who from where and through what, the summary.
struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the config's version history, one version a line.")

    @Option(help: "How many versions, newest first.") var limit = 20
    @OptionGroup var target: AdminTarget

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() async throws {
        let answer = try await target.client.fetch("GET", "/versions?limit=\(limit)")
        for version in answer["data"]?.arrayValue ?? [] { print(Self.line(version)) }
    }

    static func line(_ version: JSONValue) -> String {
        let number = version["version"]?.intValue ?? 0
        let hash = String((version["hash"]?.stringValue ?? "").prefix(7))
        let time = Self.time(version["created_at"]?.intValue ?? 0)
        var who = version["author"]?.stringValue ?? ""
        if who.isEmpty { who = "unknown" }
        if let address = version["address"]?.stringValue, !address.isEmpty { who += "@" + address }
        let via = version["via"]?.stringValue ?? ""
        return "\(number) \(hash) \(time) \(who)\(via.isEmpty ? "" : " (\(via))"): \(version["summary"]?.stringValue ?? "")"
    }

    /// Unix seconds as `2026-12-03 16:20:05Z`.
    static func time(_ seconds: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

/// `gatehouse show N`: version N's entry and its change as a diff of each entity it touched,
/// from version N-1's document to N's.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a version: who made it, and its change as a diff.")

    @Argument(help: "The version number.") var version: Int
    @OptionGroup var target: AdminTarget

    func validate() throws {
        guard version >= 1 else { throw ValidationError("a version is 1 or more") }
    }

    func run() async throws {
        let client = target.client
        let entries = try await client.fetch("GET", "/versions?limit=1&before=\(version + 1)")
        guard let entry = entries["data"]?.arrayValue?.first, entry["version"]?.intValue == version else {
            FileHandle.standardError.write(Data("error: no version \(version)\n".utf8))
            throw ExitCode(1)
        }
        print(Log.line(entry))
        let old = try await client.fetch("GET", "/versions/\(version - 1)")
        let new = try await client.fetch("GET", "/versions/\(version)")
        for change in entry["changes"]?.arrayValue ?? [] {
            guard let kind = change["kind"]?.stringValue.flatMap(EntityKind.init(rawValue:)), let name = change["name"]?.stringValue else { continue }
            print("")
            print("\(change["action"]?.stringValue ?? "change") \(kind.singular) \(name)")
            for line in LineDiff.lines(from: Self.entity(kind, name, in: old), to: Self.entity(kind, name, in: new)) { print(line) }
        }
    }

    /// An entity's pretty JSON lines in a document (none when absent). Credentials sit in their consumer.
    static func entity(_ kind: EntityKind, _ name: String, in document: JSONValue) -> [String] {
        let list = kind == .credential ? document["consumers"] : document[kind.plural]
        guard let entity = list?.arrayValue?.first(where: { $0["name"]?.stringValue == name || $0["id"]?.stringValue == name }) else {
            return []
        }
        return entity.prettyString.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}

/// A line diff by longest common subsequence: kept lines with two spaces, removed with `- `,
/// added with `+ `. Entities are small, so the quadratic table is fine.
enum LineDiff {
    static func lines(from old: [String], to new: [String]) -> [String] {
        var table = Array(repeating: Array(repeating: 0, count: new.count + 1), count: old.count + 1)
        for i in stride(from: old.count - 1, through: 0, by: -1) {
            for j in stride(from: new.count - 1, through: 0, by: -1) {
                table[i][j] = old[i] == new[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var out: [String] = []
        var (i, j) = (0, 0)
        while i < old.count || j < new.count {
            if i < old.count, j < new.count, old[i] == new[j] {
                out.append("  " + old[i])
                (i, j) = (i + 1, j + 1)
            } else if j < new.count, i == old.count || table[i][j + 1] >= table[i + 1][j] {
                out.append("+ " + new[j])
                j += 1
            } else {
                out.append("- " + old[i])
                i += 1
            }
        }
        return out
    }
}
