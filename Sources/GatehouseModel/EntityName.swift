/// Rules shared by every entity: names, tags and ids.
public enum EntityName {
    /// `[a-z0-9][a-z0-9._-]{0,127}`
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...128).contains(bytes.count), isLowerAlnum(bytes[0]) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    public static func validate(_ name: String, field: @autoclosure () -> String) throws(ConfigError) {
        guard isValid(name) else {
            throw .invalid("'\(name)' is not a valid name: use 1 to 128 of a-z 0-9 . _ - starting with a letter or digit", field: field())
        }
    }

    /// Tags are 1 to 128 printable characters without commas (lists filter with `?tags=a,b`);
    /// they are kept sorted and unique so equal sets give equal snapshots.
    public static func normalizedTags(_ tags: [String]?, field: @autoclosure () -> String) throws(ConfigError) -> [String] {
        guard let tags, !tags.isEmpty else { return [] }
        for (index, tag) in tags.enumerated() {
            guard (1...128).contains(tag.utf8.count), !tag.contains(","), tag.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
            else {
                throw .invalid("'\(tag)' is not a valid tag: 1 to 128 visible characters, no commas or spaces", field: "\(field())[\(index)]")
            }
        }
        return tags.count == 1 ? tags : Array(Set(tags)).sorted()
    }

    /// Lowercase UUID text, as the server assigns.
    public static func isUUID(_ text: String) -> Bool {
        guard text.utf8.count == 36 else { return false }
        for (index, byte) in text.utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if !isLowerHex(byte) {
                return false
            }
        }
        return true
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// An HTTP token (RFC 9110 `tchar`), used for methods and header names.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (0x21...0x7E).contains(byte) && !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
            }
    }
}
