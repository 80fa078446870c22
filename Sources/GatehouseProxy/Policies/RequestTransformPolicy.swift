import GatehouseHTTP1
import GatehouseModel
import NIOHTTP1

/// A `request-transformer` policy compiled: what it does to the headers and query parameters
/// of requests that go upstream, after every other policy let them through. Immutable.
public final class RequestTransformPolicy: Sendable {
    public let name: String
    let headers: HeaderOperations
    let query: HeaderOperations

    init(name: String, config: JSONValue) {
        self.name = name
        headers = HeaderOperations(config, target: "headers")
        query = HeaderOperations(config, target: "query")
    }

    /// Header names a rename would write for this request (those whose source it carries): the
    /// client's own fields of those names are replaced, as Kong's rename does. Usually empty,
    /// and then nothing is allocated.
    /// - Parameter hidden: key headers the route's key-auth hides: a rename never forwards a
    ///   credential under another name.
    func renameTargets(_ request: RequestFields, hidden: [String]) -> [String] {
        var targets: [String] = []
        for (from, to) in headers.rename where headers.renames(from) && !hidden.contains(from) && request.contains(name: from) {
            targets.append(to)
        }
        return targets
    }

    /// Writes what the transform adds to the upstream head (the copy already left out the
    /// fields it replaces); each value it cannot write (a variable without a value, a control
    /// character) is told to `dropped`, for the metrics.
    func apply(
        to head: inout UpstreamRequestHead, request: RequestFields, renamed targets: [String], hidden: [String], context: TransformContext,
        dropped: (PolicyMetrics.Reason) -> Void
    ) {
        for (from, to) in headers.rename where headers.renames(from) && !hidden.contains(from) {
            for value in request[name: from] { head.add(to, value) }
        }
        var written: [String] = []
        for (name, value) in headers.set {
            switch value.resolve(context) {
            case .value(let text):
                head.add(name, text)
                written.append(name)
            case .missing: dropped(.valueMissing)
            case .refused: dropped(.valueRefused)
            }
        }
        for (name, value) in headers.add {
            // Added only where the request, as transformed so far, lacks the header.
            let present =
                written.contains(name) || targets.contains(name) || (!headers.replaced.contains(name) && request.contains(name: name))
            if present { continue }
            switch value.resolve(context) {
            case .value(let text): head.add(name, text)
            case .missing: dropped(.valueMissing)
            case .refused: dropped(.valueRefused)
            }
        }
    }

    /// The query as it goes upstream: rebuilt only on routes whose transform changes it.
    /// Values are percent-encoded, so nothing substituted can break the request line.
    func transformQuery(_ query: Substring?, context: TransformContext, dropped: (PolicyMetrics.Reason) -> Void) -> Substring? {
        let ops = self.query
        if ops.isEmpty { return query }
        var pairs: [(name: Substring, rest: Substring)] = []
        for pair in (query ?? "").split(separator: "&") {
            let equals = pair.firstIndex(of: "=")
            let name = equals.map { pair[..<$0] } ?? pair
            if ops.remove.contains(where: { $0 == name }) { continue }
            let rest = equals.map { pair[$0...] } ?? ""
            if let rename = ops.rename.first(where: { $0.from == name }) {
                pairs.append((rename.to[...], rest))
            } else {
                pairs.append((name, rest))
            }
        }
        for (name, value) in ops.set {
            switch value.resolve(context) {
            case .value(let text):
                pairs.removeAll { $0.name == name }
                pairs.append((name[...], "=" + Self.encoded(text)))
            case .missing: dropped(.valueMissing)
            case .refused: dropped(.valueRefused)
            }
        }
        for (name, value) in ops.add where !pairs.contains(where: { $0.name == name }) {
            switch value.resolve(context) {
            case .value(let text): pairs.append((name[...], "=" + Self.encoded(text)))
            case .missing: dropped(.valueMissing)
            case .refused: dropped(.valueRefused)
            }
        }
        if pairs.isEmpty { return nil }
        return pairs.map { $0.name + $0.rest }.joined(separator: "&")[...]
    }

    /// Percent-encodes all but unreserved characters (RFC 3986 §2.3).
    static func encoded(_ text: String) -> Substring {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out[...]
    }
}
