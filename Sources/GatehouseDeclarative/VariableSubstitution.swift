import Foundation

/// `${GATEHOUSE_NAME}` replaced from the environment inside one parsed string value, never in
/// the file's text: whatever a variable holds (quotes, line breaks, `&`, `]`) stays part of that
/// one value and cannot become structure. Other `${…}` text is left as written: no other
/// variable is read. A value type; each file's reading owns one.
struct VariableSubstitution {
    struct Unset: Error, Equatable {
        var name: String
    }

    let environment: [String: String]
    /// False for documents that are not config (an OpenAPI spec): their `${…}` text is theirs.
    let enabled: Bool
    /// Each value substituted, with the variable it came from, to keep it out of messages.
    private(set) var used: [String: String] = [:]

    init(environment: [String: String], enabled: Bool = true) {
        self.environment = environment
        self.enabled = enabled
    }

    /// `text` with its variables replaced, or nil when it names none.
    mutating func apply(_ text: String) throws(Unset) -> String? {
        guard enabled, text.contains("${GATEHOUSE_") else { return nil }
        var result = ""
        var rest = Substring(text)
        var replaced = false
        while let start = rest.range(of: "${GATEHOUSE_") {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            let name = "GATEHOUSE_" + rest[start.upperBound..<end]
            guard Self.isVariableName(name) else {
                result += rest[..<start.upperBound]
                rest = rest[start.upperBound...]
                continue
            }
            guard let value = environment[name] else { throw Unset(name: name) }
            used[value] = name
            replaced = true
            result += rest[..<start.lowerBound]
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return replaced ? result + rest : nil
    }

    /// Whether `text` is one variable and nothing else (`${GATEHOUSE_WEIGHT}`): a plain YAML
    /// scalar written so is read as the scalar its value spells (`100` an integer).
    static func isWhole(_ text: String) -> Bool {
        text.hasPrefix("${") && text.hasSuffix("}") && isVariableName(String(text.dropFirst(2).dropLast()))
    }

    private static func isVariableName(_ name: String) -> Bool {
        name.hasPrefix("GATEHOUSE_") && name.dropFirst(10).allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }
    }
}
