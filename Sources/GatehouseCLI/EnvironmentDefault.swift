import Foundation

/// Flag defaults that an environment variable overrides: `--db` ← `GATEHOUSE_DB`, and so on.
enum EnvironmentDefault {
    static func value(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }
}
