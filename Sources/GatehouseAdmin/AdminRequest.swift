import GatehouseModel
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading admin requests: bounded JSON bodies, `If-Match`, and query parameters.
extension Request {
    /// The body as JSON. Bodies over `limit` bytes are refused with 413 before being read whole.
    mutating func jsonBody(limit: Int) async throws -> JSONValue {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw ConfigError(code: .tooLarge, message: "the request body is \(length) bytes; the limit is \(limit)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw ConfigError(code: .tooLarge, message: "the request body is over the limit of \(limit) bytes")
        } catch is NIOTooManyBytesError {
            // A chunked body has no length to refuse up front: it is counted as it comes.
            throw ConfigError(code: .tooLarge, message: "the request body is over the limit of \(limit) bytes")
        } catch {
            // The body's framing broke (a bad chunk size, a body cut short): the client's bytes.
            throw ConfigError.invalid("the request body could not be read: \(error)")
        }
        guard buffer.readableBytes > 0 else { throw ConfigError.invalid("the request body is empty; send a JSON object") }
        return try JSONValue.parse(buffer.readableBytesView)
    }

    /// The config version named by `If-Match` (`"N"`, `N` or `W/"N"`), nil when absent or `*`.
    /// Anything else, an empty value included, is malformed (400): no version can match it, and
    /// 412 would tell the client to read the current version and try again, which cannot help.
    func ifMatchVersion() throws(ConfigError) -> Int? {
        guard let value = headers[.ifMatch]?.trimmingASCIISpaces(), value != "*" else { return nil }
        var text = Substring(value)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let version = Int(text) else {
            throw ConfigError.invalid("must name a config version such as \"12\", got '\(value)'", field: "If-Match")
        }
        return version
    }

    /// `?tags=a,b`: entities must carry every listed tag.
    var requiredTags: Set<String> {
        guard let text = uri.queryParameters.get("tags"), !text.isEmpty else { return [] }
        return Set(text.split(separator: ",").map(String.init))
    }

    func intQuery(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .invalid("must be a whole number from \(range.lowerBound) to \(range.upperBound)", field: name)
        }
        return value
    }
}
