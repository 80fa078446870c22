import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging

/// The one place errors become HTTP: config errors map to their 4xx, router errors keep their
/// status, store errors to 410 (a pruned version) or a logged 503 (storage unavailable) or 500,
/// anything else is a logged 500. Every error body has the same JSON shape.
struct AdminErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ConfigError {
            return AdminResponse.error(AdminResponse.status(of: error.code), code: error.code.rawValue, message: error.message, field: error.field)
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not_found" : error.status == .contentTooLarge ? "too_large" : "http_\(error.status.code)"
            let message =
                error.status == .notFound ? "no admin endpoint \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            return AdminResponse.error(error.status, code: code, message: message)
        } catch let error as StoreError {
            let status: HTTPResponse.Status =
                switch error.code {
                case .pruned: .gone
                case .storageUnavailable: .serviceUnavailable
                case .damaged, .schemaTooNew: .internalServerError
                }
            if status != .gone {
                logger.error("admin request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            }
            return AdminResponse.error(status, code: error.code.rawValue, message: error.description)
        } catch {
            logger.error("admin request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            return AdminResponse.error(.internalServerError, code: "internal", message: "the request failed inside the control plane: \(error)")
        }
    }
}
