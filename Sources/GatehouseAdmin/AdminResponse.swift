import GatehouseModel
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let configVersion = HTTPField.Name("Gatehouse-Config-Version")!
}

/// Builds the admin API's JSON responses. Bodies are written by `JSONValue`, so key order is
/// stable and output matches the canonical document.
enum AdminResponse {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, version: Int? = nil, etag: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let version { headers[.configVersion] = String(version) }
        if let etag { headers[.eTag] = "\"\(etag)\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.prettyBytes)))
    }

    static func error(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil) -> Response {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        return json(["error": .object(error)], status: status)
    }

    static func status(of code: ConfigError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalid: .badRequest
        case .notFound: .notFound
        case .conflict, .referenced: .conflict
        case .preconditionFailed: .preconditionFailed
        case .tooLarge: .contentTooLarge
        }
    }
}
