import HTTPTypes
import Hummingbird

/// Adds `Access-Control-Expose-Headers` to actual (non-preflight) cross-origin responses.
///
/// Hummingbird's `CORSMiddleware` sends it on preflight responses only, where browsers ignore it; without it
/// on the real response a browser page cannot read the feed's `Link` header, nor a `401`'s `WWW-Authenticate`
/// (error responses get it too).
struct ExposeHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The response headers a cross-origin page may read; `CORSMiddleware` is given the same list for preflights.
    static var exposedHeaders: [String] { ["Link", "WWW-Authenticate", "X-Request-Id"] }

    let exposed = Self.exposedHeaders.joined(separator: ", ")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await renderedResponse(request, context: context, next: next)
        if request.method != .options, request.headers[.origin] != nil {
            response.headers[.accessControlExposeHeaders] = exposed
        }
        return response
    }
}
