extension Duration {
    /// Parses a config duration: a whole number with a unit `ms`, `s`, `m`, `h` or `d`.
    public init?(configText text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, let amount = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "ms": self = .milliseconds(amount)
        case "s": self = .seconds(amount)
        case "m": self = .seconds(amount * 60)
        case "h": self = .seconds(amount * 3600)
        case "d": self = .seconds(amount * 86_400)
        default: return nil
        }
    }

    /// The shortest exact config text for this duration (`1500ms`, `10s`, `2m`).
    public var configText: String {
        let ms = milliseconds
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms >= size && ms % size == 0 {
            return "\(ms / size)\(unit)"
        }
        return "\(ms)ms"
    }

    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
