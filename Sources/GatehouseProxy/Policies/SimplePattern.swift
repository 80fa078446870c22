/// The `pattern`s schemas use most, matched without a regular-expression engine: a literal
/// (matched anywhere, as JSON Schema's unanchored `pattern` is) or one ASCII character class
/// repeated over the whole value (`^[a-z0-9-]+$`, `^[A-Z]{2,3}$`). Swift's `Regex` costs
/// microseconds a match; these are a scan of the bytes. Anything else is nil: `Regex` then.
struct SimplePattern: Sendable {
    private enum Form: Sendable {
        case literal([UInt8])
        /// Every scalar in `allowed` (ASCII), and `count` of them.
        case wholeClass(allowed: ASCIISet, count: ClosedRange<Int>)
    }

    private let form: Form

    init?(_ pattern: String) {
        let bytes = Array(pattern.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        if !bytes.contains(where: { Self.metacharacters.contains($0) }) {
            form = .literal(bytes)
            return
        }
        // ^[ … ]quantifier$
        guard bytes.count >= 5, bytes.first == UInt8(ascii: "^"), bytes.last == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "["),
            let close = bytes.indices.dropFirst(2).first(where: { bytes[$0] == UInt8(ascii: "]") }), close > 2
        else { return nil }
        guard let allowed = Self.characterClass(bytes[2..<close]), let count = Self.quantifier(bytes[(close + 1)..<(bytes.count - 1)])
        else { return nil }
        form = .wholeClass(allowed: allowed, count: count)
    }

    func matches(_ text: String) -> Bool {
        switch form {
        case .literal(let needle):
            if needle.isEmpty { return true }
            let haystack = text.utf8
            guard haystack.count >= needle.count else { return false }
            var start = haystack.startIndex
            while let first = haystack[start...].firstIndex(of: needle[0]) {
                if haystack[first...].starts(with: needle) { return true }
                start = haystack.index(after: first)
            }
            return false
        case .wholeClass(let allowed, let count):
            // Counted in scalars, as a regex counts characters; any non-ASCII one is outside the class.
            var scalars = 0
            for scalar in text.unicodeScalars {
                guard scalar.isASCII, allowed.contains(UInt8(scalar.value)) else { return false }
                scalars += 1
                if scalars > count.upperBound { return false }
            }
            return count.contains(scalars)
        }
    }

    private static let metacharacters = Set("\\^$.|?*+()[]{}".utf8)

    /// Literal ASCII characters and ranges (`a-z`), no escapes or negation; a `-` first or
    /// last is itself.
    private static func characterClass(_ body: ArraySlice<UInt8>) -> ASCIISet? {
        let items = Array(body)
        guard !items.isEmpty, items[0] != UInt8(ascii: "^") else { return nil }
        // Set operations some syntaxes have inside a class (`&&`, `--`, `~~`): left to `Regex`.
        for pair in zip(items, items.dropFirst())
        where pair.0 == pair.1 && [UInt8(ascii: "&"), UInt8(ascii: "-"), UInt8(ascii: "~")].contains(pair.0) {
            return nil
        }
        var members: [UInt8] = []
        var index = 0
        while index < items.count {
            let byte = items[index]
            guard byte != UInt8(ascii: "\\"), byte != UInt8(ascii: "["), byte >= 0x20 else { return nil }
            if index + 2 < items.count, items[index + 1] == UInt8(ascii: "-") {
                let upper = items[index + 2]
                guard upper != UInt8(ascii: "\\"), upper != UInt8(ascii: "["), byte <= upper else { return nil }
                members.append(contentsOf: byte...upper)
                index += 3
            } else {
                members.append(byte)
                index += 1
            }
        }
        return ASCIISet(String(decoding: members, as: UTF8.self))
    }

    /// `+`, `*`, `{n}`, `{n,}` (not: a bound this large is no bound) or `{n,m}`.
    private static func quantifier(_ text: ArraySlice<UInt8>) -> ClosedRange<Int>? {
        let written = String(decoding: text, as: UTF8.self)
        switch written {
        case "+": return 1...Int.max
        case "*": return 0...Int.max
        default:
            guard written.hasPrefix("{"), written.hasSuffix("}") else { return nil }
            let parts = written.dropFirst().dropLast().split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = Int(parts[0]), low >= 0 else { return nil }
            if parts.count == 1 { return low...low }
            guard let high = Int(parts[1]), high >= low else { return nil }
            return low...high
        }
    }
}
