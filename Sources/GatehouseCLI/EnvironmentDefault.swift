import Foundation

/// Flag defaults that an environment variable overrides: `--db` ← `GATEHOUSE_DB`, and so on.
enum EnvironmentDefault {
    static func value(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }

    /// A switch flag's variable: `1`, `true` or `yes` turns it on; unset, `0`, `false` or `no` leave
    /// it off.
    static func flag(_ name: String) -> Bool {
        value(name, false, expected: "1, true, yes, 0, false or no") { text in
            switch text.lowercased() {
            case "1", "true", "yes": true
            case "0", "false", "no": false
            default: nil
            }
        }
    }

    /// The variable's value parsed by `parse`, or `fallback` when unset. An unparsable value ends
    /// the process with a usage error naming the variable, rather than being ignored.
    static func value<T>(_ name: String, _ fallback: T, expected: String, _ parse: (String) -> T?) -> T {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return fallback }
        guard let value = parse(text) else {
            FileHandle.standardError.write(Data("Error: \(name)='\(text)' is not \(expected)\n".utf8))
            exit(64)
        }
        return value
    }
}
