import Hummingbird

/// Counts requests in flight and records each one's duration by method, route template and status class.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        metrics.requestStarted()
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await renderedResponse(request, context: context, next: next)
        } catch {
            metrics.requestFinished(method: request.method.rawValue, route: Self.route(context), status: 500, duration: .now - started)
            throw error
        }
        metrics.requestFinished(method: request.method.rawValue, route: Self.route(context), status: response.status.code, duration: .now - started)
        return response
    }

    /// The matched route template; everything unmatched is one value, `(unmatched)` (also the access log's).
    static func route(_ context: Context) -> String {
        guard let path = context.endpointPath, path != "NotFound" else { return "(unmatched)" }
        return path
    }
}
