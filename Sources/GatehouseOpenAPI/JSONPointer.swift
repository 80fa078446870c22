import Foundation
import GatehouseModel

/// A place in a spec or overlay document (RFC 6901), as every problem names it:
/// `#/paths/~1pets/get/x-gatehouse/policies`. A value; tokens are kept unescaped.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    public private(set) var tokens: [String]

    public static let root = JSONPointer(tokens: [])

    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// The pointer of a local `$ref` (`#/components/parameters/owner`), or nil for any other
    /// reference (another file, a URL). The fragment is percent-decoded first, as a URI's is.
    public init?(reference: String) {
        guard reference.hasPrefix("#") else { return nil }
        let fragment = reference.dropFirst()
        guard fragment.isEmpty || fragment.hasPrefix("/") else { return nil }
        guard let decoded = String(fragment).removingPercentEscapes() else { return nil }
        tokens =
            decoded.isEmpty
            ? []
            : decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
    }

    public func appending(_ token: String) -> JSONPointer {
        var copy = self
        copy.tokens.append(token)
        return copy
    }

    public func appending(_ index: Int) -> JSONPointer { appending(String(index)) }

    /// A model field path (`config.allow_origins[0]`) below this pointer.
    func appending(field: String) -> JSONPointer {
        var copy = self
        for part in field.split(separator: ".") {
            var rest = Substring(part)
            if let bracket = rest.firstIndex(of: "[") {
                copy.tokens.append(String(rest[..<bracket]))
                rest = rest[bracket...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    copy.tokens.append(String(rest[rest.index(after: rest.startIndex)..<close]))
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                copy.tokens.append(String(rest))
            }
        }
        return copy
    }

    /// The value this pointer names in `root`, or nil.
    public func resolve(in root: JSONValue) -> JSONValue? {
        var value = root
        for token in tokens {
            switch value {
            case .object(let fields):
                guard let next = fields[token] else { return nil }
                value = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { return nil }
                value = items[index]
            default:
                return nil
            }
        }
        return value
    }

    public var description: String {
        "#" + tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }
}

extension String {
    /// `%XX` escapes decoded (UTF-8), or nil when one is malformed.
    fileprivate func removingPercentEscapes() -> String? {
        PercentDecoding.decode(Substring(self), plusIsSpace: false)
    }
}
