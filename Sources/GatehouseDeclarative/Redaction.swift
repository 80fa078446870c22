import Foundation
import GatehouseModel

/// What a problem's message must not show: credential secrets (`key`, `password` and their
/// hashes), policy config fields named like secrets, and values that came from `${GATEHOUSE_…}`
/// (shown as the variable's name instead). Any other value a message quotes is cut to
/// `maxEcho` characters, so a misplaced secret or a huge value is never printed whole.
struct Redaction: Sendable {
    static let maxEcho = 40
    /// Values this short are left alone outside credentials: hiding every `100` would garble
    /// messages, and a variable that short is not a secret worth the name.
    static let minimumVariableLength = 8

    private var replacements: [String: String] = [:]

    /// The secrets of one file's document; each value substituted into it, as its variable.
    mutating func learn(_ root: JSONValue, substituted: [String: String]) {
        for (value, name) in substituted where value.count >= Self.minimumVariableLength { replacements[value] = "${\(name)}" }
        for consumer in root["consumers"]?.arrayValue ?? [] {
            for credential in consumer["credentials"]?.arrayValue ?? [] {
                for field in ["key", "password", "key_hash", "password_hash"] {
                    if let secret = credential[field]?.stringValue { hide(secret) }
                }
            }
        }
        for certificate in root["certificates"]?.arrayValue ?? [] {
            for field in ["key", "key_sealed"] {
                if let secret = certificate[field]?.stringValue { hide(secret) }
            }
        }
        for policy in root["policies"]?.arrayValue ?? [] {
            for (field, value) in policy["config"]?.objectValue ?? [:] where Self.namesASecret(field) {
                if let secret = value.stringValue { hide(secret) }
            }
        }
    }

    mutating func merge(_ other: Redaction) {
        replacements.merge(other.replacements) { kept, _ in kept }
    }

    func apply(_ problem: DeclarativeSource.Problem) -> DeclarativeSource.Problem {
        var problem = problem
        problem.message = apply(problem.message)
        return problem
    }

    func apply(_ text: String) -> String {
        var text = text
        // Longest first, so a secret holding a shorter one is hidden whole.
        for (secret, shown) in replacements.sorted(by: { $0.key.count > $1.key.count }) {
            text = Self.hiding(secret, as: shown, in: text)
        }
        return Self.capQuoted(text)
    }

    /// `text` with `secret` shown as `shown`, and with its start too where only that is quoted (a
    /// long value is cut short before a message gets here): any run of at least
    /// `minimumVariableLength` of its first characters is hidden.
    static func hiding(_ secret: String, as shown: String, in text: String) -> String {
        guard secret.count >= minimumVariableLength else { return text.replacingOccurrences(of: secret, with: shown) }
        let start = secret.prefix(minimumVariableLength)
        var result = ""
        var rest = text[...]
        while let found = rest.range(of: start) {
            result += rest[..<found.lowerBound]
            var end = found.upperBound
            var next = secret.index(secret.startIndex, offsetBy: minimumVariableLength)
            while end < rest.endIndex, next < secret.endIndex, rest[end] == secret[next] {
                end = rest.index(after: end)
                next = secret.index(after: next)
            }
            result += shown
            rest = rest[end...]
        }
        return result + rest
    }

    /// `value` as a message may quote it: at most `maxEcho` characters.
    static func capped(_ value: String) -> String {
        value.count <= maxEcho ? value : String(value.prefix(maxEcho - 1)) + "…"
    }

    private mutating func hide(_ secret: String) {
        if !secret.isEmpty, replacements[secret] == nil { replacements[secret] = "(hidden)" }
    }

    private static func namesASecret(_ field: String) -> Bool {
        ["secret", "password", "token"].contains { field.lowercased().contains($0) }
    }

    /// Every `'…'` in `text` cut to `maxEcho` characters (the model's messages quote values so).
    private static func capQuoted(_ text: String) -> String {
        let parts = text.split(separator: "'", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return text }
        return parts.enumerated().map { index, part in index % 2 == 1 && index < parts.count - 1 ? capped(String(part)) : String(part) }
            .joined(separator: "'")
    }
}
