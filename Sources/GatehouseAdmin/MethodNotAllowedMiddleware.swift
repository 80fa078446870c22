import HTTPTypes
import Hummingbird

/// Answers 405 with `Allow` when the path is one the API serves, under other methods; other
/// unknown paths stay 404. It is added to the router after every route, so it wraps only the
/// router's not-found responder (a Hummingbird middleware applies to the routes added after it,
/// and to the not-found responder), and knows every route by then.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    private let endpoints: [(path: RouterPath, methods: [HTTPRequest.Method])]

    init(routes: [Router<Context>.RouteDescription]) {
        var endpoints: [(path: RouterPath, methods: [HTTPRequest.Method])] = []
        for route in routes {
            if let index = endpoints.firstIndex(where: { $0.path.description == route.path.description }) {
                endpoints[index].methods.append(route.method)
            } else {
                endpoints.append((route.path, [route.method]))
            }
        }
        self.endpoints = endpoints
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = allowedMethods(request.uri.path) else { throw error }
            let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
            var response = AdminResponse.error(
                .methodNotAllowed, code: "method_not_allowed", message: "\(request.uri.path) answers \(allow), not \(request.method)")
            response.headers[.allow] = allow
            return response
        }
    }

    /// The methods of the route whose path matches, segment by segment as the router's trie does.
    private func allowedMethods(_ path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        return endpoints.first { endpoint in
            endpoint.path.count == segments.count && zip(endpoint.path, segments).allSatisfy { element, segment in element ~= segment }
        }?.methods
    }
}
