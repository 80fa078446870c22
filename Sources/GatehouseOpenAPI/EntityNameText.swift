import GatehouseModel

/// Free text (an `info.title`, an `operationId`, a method and path) turned into the entity-name
/// grammar `[a-z0-9][a-z0-9._-]{0,127}`: camelCase split with `-` (in identifiers), `/` as `.`, anything else
/// outside the grammar as `-`, runs collapsed. Pure; the same text gives the same name.
enum EntityNameText {
    /// - Parameter splitCamelCase: `getPetById` → `get-pet-by-id` (for identifiers; a title's
    ///   `GitHub` stays `github`).
    static func name(from text: String, splitCamelCase: Bool = true) -> String {
        var out: [UInt8] = []
        var previousWasLowerOrDigit = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                if splitCamelCase, previousWasLowerOrDigit { append(UInt8(ascii: "-"), to: &out) }
                out.append(byte | 0x20)
                previousWasLowerOrDigit = false
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(byte)
                previousWasLowerOrDigit = true
            case UInt8(ascii: "."), UInt8(ascii: "_"):
                append(byte, to: &out)
                previousWasLowerOrDigit = false
            case UInt8(ascii: "/"):
                append(UInt8(ascii: "."), to: &out)
                previousWasLowerOrDigit = false
            default:
                append(UInt8(ascii: "-"), to: &out)
                previousWasLowerOrDigit = false
            }
        }
        let separators: Set<UInt8> = [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_")]
        while let first = out.first, separators.contains(first) { out.removeFirst() }
        while let last = out.last, separators.contains(last) { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }

    /// A separator after a separator replaces nothing: `a - b` is `a-b`, `a/-b` is `a.b`.
    private static func append(_ separator: UInt8, to out: inout [UInt8]) {
        guard let last = out.last else { return out.append(separator) }
        if [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_")].contains(last) {
            // `.` (a path step) is kept over `-` (mere punctuation).
            if separator == UInt8(ascii: ".") { out[out.count - 1] = separator }
            return
        }
        out.append(separator)
    }
}
