import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// `Link` (RFC 8288): the next page of the feed.
    public static let link = Self("Link")!
    /// `Idempotency-Key`: lets a client retry a post safely.
    public static let idempotencyKey = Self("Idempotency-Key")!
    /// Set on the answer to a retried post that replays the first result.
    public static let idempotentReplayed = Self("Idempotent-Replayed")!
}

extension HTTPField.Name {
    /// `Referrer-Policy`: what the browser may tell other sites about the page.
    static let referrerPolicy = Self("Referrer-Policy")!
}
