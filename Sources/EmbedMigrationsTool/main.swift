import Foundation

// Usage: EmbedMigrationsTool OUTPUT.swift MIGRATION.sql...
// Writes the migrations, in the order given, as a Swift array literal.
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: EmbedMigrationsTool OUTPUT.swift FILE.sql...\n".utf8))
    exit(64)
}
var source = "// Generated from Schema/migrations by the EmbedMigrations plugin. Do not edit.\n"
source += "let embeddedMigrations: [(file: String, sql: String)] = [\n"
for path in arguments.dropFirst() {
    let sql = try String(contentsOfFile: path, encoding: .utf8)
    let name = URL(fileURLWithPath: path).lastPathComponent
    let escaped = sql.unicodeScalars.map { scalar -> String in
        switch scalar {
        case "\\": return "\\\\"
        case "\"": return "\\\""
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return scalar.value < 0x20 ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
    }.joined()
    source += "    (file: \"\(name)\", sql: \"\(escaped)\"),\n"
}
source += "]\n"
try source.write(toFile: output, atomically: true, encoding: .utf8)
