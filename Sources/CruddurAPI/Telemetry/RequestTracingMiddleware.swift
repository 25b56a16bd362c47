import CruddurLogging
import CruddurTracing
import HTTPTypes
import Hummingbird
import Tracing

/// One server span per request (only when traces are exported): named by method and route template
/// (`GET /api/activities/home`, never the raw URL with its cursor), with the stable HTTP semantic-convention attributes,
/// continuing the caller's W3C `traceparent`/`tracestate`. Its trace id joins the request's log metadata.
struct RequestTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    let tracer: OTLPTracer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var parent = ServiceContext.current ?? .topLevel
        if request.headers[.traceparent] != nil {
            tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        }
        let method = request.method.rawValue
        let span = tracer.startSpan(method, context: parent, ofKind: .server)
        var context = context
        context.logger[metadataKey: LogLine.traceIDKey] = .string(span.identity.traceID.description)
        if span.isRecording {
            span.record("http.request.method", .string(method))
            span.record("url.scheme", .string("http"))
            span.record("url.path", .string(request.uri.path))
            span.record("network.protocol.version", .string("1.1"))
            if case .string(let requestID)? = context.logger[metadataKey: LogLine.requestIDKey] {
                span.record("cruddur.request_id", .string(requestID))
            }
        }
        let response: Response
        do {
            response = try await ServiceContext.withValue(span.context) {
                try await renderedResponse(request, context: context, next: next)
            }
        } catch {
            finish(span, method: method, route: RequestMetricsMiddleware.route(context), status: 500)
            span.recordError(error)
            span.end()
            throw error
        }
        finish(span, method: method, route: RequestMetricsMiddleware.route(context), status: response.status.code)
        // Every response here is a buffer already built: the span ends when the handler has answered.
        span.end()
        return response
    }

    private func finish(_ span: TracedSpan, method: String, route: String, status: Int) {
        guard span.isRecording else { return }
        span.operationName = "\(method) \(route)"
        span.record("http.route", .string(route))
        span.record("http.response.status_code", .int(Int64(status)))
        if status >= 500 {
            span.record("error.type", .string("\(status)"))
            span.setStatus(SpanStatus(code: .error))
        }
    }
}

private struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}
