import HTTPTypes
import Hummingbird

/// Turns the router's `404` for a known path asked with another method into `405` with `Allow`.
///
/// Added after every route, so it runs only where the router found no route for the path and method.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Every route's path and the methods it answers (`HEAD` wherever `GET` is).
    let routes: [(path: RouterPath, methods: [HTTPRequest.Method])]

    init(routes: [Router<Context>.RouteDescription]) {
        var byPath: [(path: RouterPath, methods: [HTTPRequest.Method])] = []
        for route in routes {
            let methods = route.method == .get ? [HTTPRequest.Method.get, .head] : [route.method]
            if let index = byPath.firstIndex(where: { $0.path == route.path }) {
                byPath[index].methods += methods.filter { !byPath[index].methods.contains($0) }
            } else {
                byPath.append((route.path, methods))
            }
        }
        self.routes = byPath
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard request.method != .options, let route = routes.first(where: { Self.matches($0.path, segments) }) else {
            return try await next(request, context)
        }
        var error = APIError(.methodNotAllowed, code: "method_not_allowed", message: "This address does not accept that method.")
        error.headers[.allow] = route.methods.map(\.rawValue).joined(separator: ", ")
        throw error
    }

    static func matches(_ path: RouterPath, _ segments: [Substring]) -> Bool {
        path.components.count == segments.count && zip(path.components, segments).allSatisfy { $0 ~= $1 }
    }
}
