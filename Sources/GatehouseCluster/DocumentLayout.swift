/// Where each entity of a canonical snapshot document sits in its bytes: for each of its four
/// lists (upstreams, routes, consumers, policies, in `SnapshotDelta.kinds` order) the range
/// between the list's brackets, and each element's range within it. Found once by scanning the
/// bytes (strings skipped whole, so brackets inside them do not count), then carried along as
/// deltas are applied. A value.
struct DocumentLayout: Sendable, Equatable {
    struct List: Sendable, Equatable {
        /// Between `[` and `]`, in the document's bytes.
        var contents: Range<Int>
        /// Each element's bytes, as offsets from `contents.lowerBound`.
        var elements: [Range<Int>]
    }

    var lists: [List]

    static let keys: [[UInt8]] = ["upstreams", "routes", "consumers", "policies"].map { Array($0.utf8) }

    init(lists: [List]) {
        self.lists = lists
    }

    /// The layout of a canonical document (no whitespace between tokens); nil unless each of the
    /// four lists is found once, as a value of the top-level object.
    init?(scanning bytes: [UInt8]) {
        var found: [List?] = Array(repeating: nil, count: Self.keys.count)
        var depth = 0
        var inString = false
        var escaped = false
        var expectingKey = false
        var keyStart: Int?
        var lastKey: ArraySlice<UInt8> = []
        var list: Int?  // the list being scanned, by kind index
        var contentsStart = 0
        var elementStart = 0
        var elements: [Range<Int>] = []
        for index in bytes.indices {
            let byte = bytes[index]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if let start = keyStart {
                        lastKey = bytes[start..<index]
                        keyStart = nil
                    }
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                if depth == 1, expectingKey {
                    keyStart = index + 1
                    expectingKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth == 1 {
                    guard byte == UInt8(ascii: "{") else { return nil }
                    expectingKey = true
                } else if depth == 2, byte == UInt8(ascii: "["), let kind = Self.keys.firstIndex(where: { $0[...] == lastKey }) {
                    guard found[kind] == nil else { return nil }
                    list = kind
                    contentsStart = index + 1
                    elementStart = index + 1
                    elements = []
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 2, let kind = list {
                    if index > elementStart { elements.append(elementStart - contentsStart..<index - contentsStart) }
                    found[kind] = List(contents: contentsStart..<index, elements: elements)
                    list = nil
                }
                depth -= 1
                guard depth >= 0 else { return nil }
            case UInt8(ascii: ","):
                if depth == 1 {
                    expectingKey = true
                } else if depth == 2, list != nil {
                    elements.append(elementStart - contentsStart..<index - contentsStart)
                    elementStart = index + 1
                }
            default: break
            }
        }
        guard depth == 0, !inString else { return nil }
        var lists: [List] = []
        for list in found {
            guard let list else { return nil }
            lists.append(list)
        }
        self.lists = lists
    }
}
