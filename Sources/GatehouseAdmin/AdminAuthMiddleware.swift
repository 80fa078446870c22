import GatehouseModel
import HTTPTypes
import Hummingbird
import Logging

/// Authenticates every admin request and checks its role before any handler runs: 401 without a
/// token or with a wrong one, 403 for a role that may not, 429 for an address that failed too
/// often (its token is then not checked at all). Refusals are logged with the client's address.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let auth: AdminAuth
    let logger: Logger

    func handle(_ request: Request, context: AdminContext, next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard auth.enabled else { return try await next(request, context) }
        let address = context.clientAddress
        if let wait = auth.throttle.blocked(address) {
            var response = AdminResponse.error(.tooManyRequests, code: "too_many_failures", message: "too many failed admin logins from \(address); try again later")
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let caller: AdminCaller
        switch auth.authenticate(request.headers[.authorization]) {
        case .refused(let message):
            auth.throttle.failed(address)
            logger.warning(
                "admin request refused: not authenticated", metadata: ["address": "\(address)", "method": "\(request.method)", "path": "\(request.uri.path)"])
            var response = AdminResponse.error(.unauthorized, code: "unauthorized", message: message)
            response.headers[.wwwAuthenticate] = "Bearer realm=\"gatehouse-admin\""
            return response
        case .caller(let found):
            caller = found
        }
        let needed = AdminAuth.requiredRole(request)
        guard caller.role >= needed else {
            logger.warning(
                "admin request refused: role", metadata: ["address": "\(address)", "token": "\(caller.name)", "role": "\(caller.role.rawValue)",
                "method": "\(request.method)", "path": "\(request.uri.path)"])
            return AdminResponse.error(
                .forbidden, code: "forbidden", message: "the \(caller.role.rawValue) role may not \(request.method) \(request.uri.path): it needs \(needed.rawValue)")
        }
        var context = context
        context.caller = caller
        return try await next(request, context)
    }
}
