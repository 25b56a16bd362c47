import CruddurLogging
import CruddurTracing
import HTTPTypes
import Hummingbird

/// `X-Request-Id`: a well-formed incoming value (1 to 128 characters of `[A-Za-z0-9._-]`) is kept, anything else is
/// replaced by a new random one. It is on every response, errors included, and in the metadata (`request_id`) of every
/// log line the request's logger writes. Outermost, so that every other middleware's answer carries it.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    let ids = IDGenerator()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let values = request.headers[values: .xRequestID]
        let id = values.count == 1 && RequestID.isWellFormed(values[0]) ? values[0] : ids.hex128()
        var context = context
        context.logger[metadataKey: LogLine.requestIDKey] = .string(id)
        var response = try await renderedResponse(request, context: context, next: next)
        response.headers[.xRequestID] = id
        return response
    }
}

/// Request ids: the shape accepted from callers, and new ones.
enum RequestID {
    static func isWellFormed(_ value: String) -> Bool {
        (1...128).contains(value.utf8.count)
            && value.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-")
            }
    }

    /// 32 random hexadecimal digits from the system's generator (for the rare answer made outside the middleware).
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return pad(generator.next()) + pad(generator.next())
    }

    private static func pad(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
