import Hummingbird

/// Calls `next` and turns a thrown HTTP error into its response, so that a middleware can add headers to error
/// answers too.
func renderedResponse<Context: RequestContext>(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
) async throws -> Response {
    do {
        return try await next(request, context)
    } catch let error as any HTTPResponseError {
        return try error.response(from: request, context: context)
    }
}
