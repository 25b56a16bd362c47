import CruddurDomain
import NIOConcurrencyHelpers
import NIOCore

/// The first page of the home feed, kept in memory for at most `maxAge` (`FEED_CACHE_MAX_AGE_MS`).
///
/// The guarantee, with no cost to any write: a reader on any server sees every change committed more than `maxAge`
/// before its request arrived (a post from another server, an edit or delete by SQL, the expiry purge), because a page
/// is served only until `maxAge` after its query *started*, and a query sees everything committed before it started.
/// On top of that, a page is never served after the earliest `expires_at` on it, and this server's own posts drop
/// every page before their response is sent, so their author sees the post at once. A page whose query was overtaken
/// by such a post is not stored (a generation counter), so a slow read cannot put an older page back.
///
/// Staleness is bounded instead of notified because `NOTIFY` serializes every notifying commit in the whole cluster
/// (migration 5 removed the triggers; docs/performance.md has the numbers).
final class FeedCache: Sendable {
    struct Entry {
        let generation: UInt64
        /// The page's JSON, shared by every answer (a `ByteBuffer` is written without being copied).
        let body: ByteBuffer
        let link: String?
        /// When the page's query started: the page is served until `maxAge` after it.
        let queryStarted: ContinuousClock.Instant
        /// The earliest `expires_at` on the page.
        let validUntil: Timestamp
    }

    struct State {
        var generation: UInt64 = 0
        var pages: [Int: Entry] = [:]
    }

    /// The largest `FEED_CACHE_MAX_AGE_MS`: one second is the whole staleness budget a fleet gets (replica lag included).
    static let maximumMaxAge: Duration = .seconds(1)

    let maxAge: Duration
    private let state = NIOLockedValueBox(State())

    init(maxAge: Duration) {
        self.maxAge = min(maxAge, Self.maximumMaxAge)
    }

    /// A cached first page of `limit` items, if one may be served now.
    func page(limit: Int, now: Timestamp, instant: ContinuousClock.Instant = .now) -> (body: ByteBuffer, link: String?)? {
        state.withLockedValue { state in
            guard let entry = state.pages[limit], entry.generation == state.generation,
                instant < entry.queryStarted.advanced(by: maxAge),
                now.microsecondsSinceEpoch < entry.validUntil.microsecondsSinceEpoch
            else { return nil }
            return (entry.body, entry.link)
        }
    }

    /// The generation to pass to ``store(limit:generation:queryStarted:body:link:page:)``, read before the query.
    func currentGeneration() -> UInt64 {
        state.withLockedValue { $0.generation }
    }

    /// Keeps a page whose query started at `queryStarted` with `generation` current, unless this server posted since.
    func store(limit: Int, generation: UInt64, queryStarted: ContinuousClock.Instant, body: ByteBuffer, link: String?, page: [FeedActivity]) {
        let validUntil = page.map(\.expiresAt).min() ?? Timestamp(microsecondsSinceEpoch: .max)
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            state.pages[limit] = Entry(generation: generation, body: body, link: link, queryStarted: queryStarted, validUntil: validUntil)
        }
    }

    /// Drops every page: this server's own post.
    func invalidate() {
        state.withLockedValue { state in
            state.generation &+= 1
            state.pages.removeAll(keepingCapacity: true)
        }
    }
}
