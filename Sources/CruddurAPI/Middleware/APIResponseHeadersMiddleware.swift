import HTTPTypes
import Hummingbird

/// Headers every response carries, errors included: `X-Content-Type-Options: nosniff`, so no browser reads
/// JSON as a script or page, and `Cache-Control: no-store`, unless the route chose (the page's revalidated assets), so no
/// cache keeps an activity past its expiry (the feed is the same for everyone, but it changes with every post and
/// every expiry).
struct APIResponseHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await renderedResponse(request, context: context, next: next)
        response.headers[.xContentTypeOptions] = "nosniff"
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}
