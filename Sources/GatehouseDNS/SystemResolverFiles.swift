import Foundation
import NIOCore

/// What the system's resolver is configured with: name servers from `/etc/resolv.conf` and
/// names from `/etc/hosts`, which is consulted first, as glibc's `files dns` order does.
public enum SystemResolverFiles {
    /// The `nameserver` lines of a resolv.conf text, in order, on port 53.
    public static func nameServers(resolvConf text: String) -> [SocketAddress] {
        text.split(whereSeparator: \.isNewline).compactMap { line -> SocketAddress? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            return try? SocketAddress(ipAddress: String(fields[1]), port: 53)
        }
    }

    /// Name (lowercase) → addresses, in file order, from a hosts-file text.
    public static func hosts(_ text: String) -> [String: [String]] {
        var names: [String: [String]] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.prefix { $0 != "#" }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2, (try? SocketAddress(ipAddress: fields[0], port: 0)) != nil else { continue }
            for name in fields.dropFirst() {
                let key = name.lowercased()
                if names[key]?.contains(fields[0]) != true { names[key, default: []].append(fields[0]) }
            }
        }
        return names
    }

    public static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
