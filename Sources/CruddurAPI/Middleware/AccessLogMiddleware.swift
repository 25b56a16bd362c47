import CruddurLogging
import Hummingbird
import Logging

/// Writes one access-log line per request: outside everything but ``RequestIDMiddleware``, so it sees every answer.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let log: AccessLog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await renderedResponse(request, context: context, next: next)
        let elapsed = ContinuousClock.now - started
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        log.record(
            AccessLog.Entry(
                timestamp: LogLine.now(),
                requestID: Self.text(context.logger[metadataKey: LogLine.requestIDKey]) ?? "-",
                method: request.method.rawValue,
                route: RequestMetricsMiddleware.route(context),
                status: response.status.code,
                durationMicroseconds: microseconds,
                bytes: Int64(response.body.contentLength ?? 0),
                traceID: Self.text(context.logger[metadataKey: LogLine.traceIDKey])
            ))
        return response
    }

    /// A metadata value's text, without formatting it again when it is already a string (the ids always are).
    private static func text(_ value: Logger.Metadata.Value?) -> String? {
        switch value {
        case .string(let text)?: text
        case let value?: "\(value)"
        case nil: nil
        }
    }
}
