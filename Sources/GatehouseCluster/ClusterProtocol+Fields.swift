import GatehouseModel

/// The form of every value a peer sends, checked on arrival by both sides, so nothing received is
/// stored, shown, signed or computed with before it is known to be in range.
extension ClusterProtocol {
    /// Versions count commits from 1 (0: no config yet) and stay within what a JSON number holds
    /// exactly; nothing received outside this range is taken.
    public static let configVersions = 0...((1 << 53) - 1)
    /// The longest rejection reason a report carries (a data plane cuts its own to fit).
    public static let maxReasonBytes = 4 << 10
    static let maxNodeIDBytes = 128
    static let maxLabelBytes = 255
    static let maxPolicyTypes = 64

    /// A SHA-256 in hex, as snapshot hashes and signatures are written.
    static func isHexDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// A lowercase UUID, as epochs are made.
    static func isEpoch(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.indices.allSatisfy { index in
            [8, 13, 18, 23].contains(index) ? bytes[index] == UInt8(ascii: "-") : (0x30...0x39).contains(bytes[index]) || (0x61...0x66).contains(bytes[index])
        }
    }

    static func isNodeID(_ text: String) -> Bool { text.utf8.count <= maxNodeIDBytes && EntityName.isToken(text) }

    /// Printable ASCII, space included (host names, release names).
    static func isLabel(_ text: String) -> Bool { text.utf8.count <= maxLabelBytes && text.utf8.allSatisfy { (0x20...0x7E).contains($0) } }

    /// A version written as decimal digits (a header): no sign, no leading zero, in range.
    static func version(text: String) -> Int? {
        guard (1...16).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), text == "0" || !text.hasPrefix("0"),
            let value = Int(text), configVersions.contains(value)
        else { return nil }
        return value
    }

    static var versionRange: String { "an integer from 0 to \(configVersions.upperBound)" }
}
