import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// `Link` (RFC 8288): the next page of the feed.
    public static let link = Self("Link")!
    /// `Idempotency-Key`: lets a client retry a post safely.
    public static let idempotencyKey = Self("Idempotency-Key")!
    /// Set on the answer to a retried post that replays the first result.
    public static let idempotentReplayed = Self("Idempotent-Replayed")!
    /// `X-Request-Id`: the request's id, on every response and every log line of the request.
    public static let xRequestID = Self("X-Request-Id")!
    /// W3C trace context, accepted from browsers (CORS) and propagated.
    public static let traceparent = Self("traceparent")!
    public static let tracestate = Self("tracestate")!
}

extension HTTPField.Name {
    /// `Referrer-Policy`: what the browser may tell other sites about the page.
    static let referrerPolicy = Self("Referrer-Policy")!
}
