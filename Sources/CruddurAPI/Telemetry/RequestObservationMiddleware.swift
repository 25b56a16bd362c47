import CruddurLogging
import CruddurTracing
import HTTPTypes
import Hummingbird
import Logging
import Tracing

/// What the server observes of each request, in one middleware, outermost, so that every answer (whichever middleware
/// gives it) carries its request id, is counted, traced and logged; one async frame per request, whichever parts are on.
///
/// - `X-Request-Id`: a well-formed incoming value (1 to 128 characters of `[A-Za-z0-9._-]`) is kept, anything else is
///   replaced by a new random one. It is on every response, errors included, and in the metadata (`request_id`) of
///   every log line the request's logger writes.
/// - Traces (only when exported): one server span per request, named by method and route template
///   (`GET /api/activities/home`, never the raw URL with its cursor), with the stable HTTP semantic-convention
///   attributes, continuing the caller's W3C `traceparent`/`tracestate`. Its trace id is on the request's log lines
///   through ``Logging/Logger/MetadataProvider/traceID``, read only when a line is written.
/// - Metrics (`METRICS_PORT`): requests in flight, and each one's duration by method, route template and status class.
/// - The access log (`ACCESS_LOG`): one line per request.
struct RequestObservationMiddleware<Context: RequestContext>: RouterMiddleware {
    let requestIDs: IDGenerator
    let tracer: OTLPTracer?
    let metrics: ServerMetrics?
    let accessLog: AccessLog?

    init(requestIDs: IDGenerator, tracer: OTLPTracer? = nil, metrics: ServerMetrics? = nil, accessLog: AccessLog? = nil) {
        self.requestIDs = requestIDs
        self.tracer = tracer
        self.metrics = metrics
        self.accessLog = accessLog
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let values = request.headers[values: .xRequestID]
        let id = values.count == 1 && RequestID.isWellFormed(values[0]) ? values[0] : requestIDs.hex128()
        var context = context
        context.logger[metadataKey: LogLine.requestIDKey] = .string(id)
        metrics?.requestStarted()
        let started = ContinuousClock.now
        let span = tracer.map { Self.startSpan(request, tracer: $0) }
        var response: Response
        do {
            if let span {
                // The task-local itself: Tracing's `withValue` wrapper is generic across modules (run-time metadata lookups).
                response = try await ServiceContext.$current.withValue(span.context) {
                    try await renderedResponse(request, context: context, next: next)
                }
            } else {
                response = try await renderedResponse(request, context: context, next: next)
            }
        } catch {
            span?.recordError(error)
            finish(request, context: context, requestID: id, started: started, span: span, status: 500, bytes: 0)
            throw error
        }
        response.headers[.xRequestID] = id
        // Every response here is a buffer already built: the span ends when the handler has answered.
        finish(
            request, context: context, requestID: id, started: started, span: span, status: response.status.code,
            bytes: Int64(response.body.contentLength ?? 0))
        return response
    }

    /// The matched route template; everything unmatched is one value, `(unmatched)`.
    static func route(_ context: Context) -> String {
        guard let path = context.endpointPath, path != "NotFound" else { return "(unmatched)" }
        return path
    }

    private static func startSpan(_ request: Request, tracer: OTLPTracer) -> TracedSpan {
        var parent = ServiceContext.current ?? .topLevel
        if request.headers[.traceparent] != nil {
            tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        }
        // Named by its method until the route is known (``finish``).
        return tracer.startSpan(request.method.rawValue, in: parent, ofKind: .server)
    }

    /// Counts and logs the request, and ends its span (if any) with its HTTP attributes.
    private func finish(
        _ request: Request, context: Context, requestID: String, started: ContinuousClock.Instant, span: TracedSpan?, status: Int, bytes: Int64
    ) {
        let elapsed = ContinuousClock.now - started
        let method = request.method.rawValue
        let route = Self.route(context)
        metrics?.requestFinished(method: method, route: route, status: status, duration: elapsed)
        if let span, span.identity.sampled {
            span.end(
                serving: HTTPServerAttributes(method: method, path: request.uri.path, requestID: requestID, route: route, statusCode: status))
        }
        if let accessLog {
            let components = elapsed.components
            accessLog.record(
                AccessLog.Entry(
                    timestamp: LogLine.now(), requestID: requestID, method: method, route: route, status: status,
                    durationMicroseconds: components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000, bytes: bytes,
                    traceID: span?.identity.traceID))
        }
    }
}

private struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}

extension Logger.MetadataProvider {
    /// `trace_id`: the trace of the span in the current `ServiceContext` (the request being served), when traces are
    /// exported; nothing otherwise.
    public static let traceID = Logger.MetadataProvider {
        guard let context = ServiceContext.current, let identity = SpanIdentity(context) else { return [:] }
        return [LogLine.traceIDKey: .string(identity.traceID.description)]
    }
}

/// Request ids: the shape accepted from callers (new ones come from ``IDGenerator/hex128()``).
enum RequestID {
    static func isWellFormed(_ value: String) -> Bool {
        (1...128).contains(value.utf8.count)
            && value.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-")
            }
    }
}
