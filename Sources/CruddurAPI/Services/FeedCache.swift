import CruddurDatabase
import CruddurDomain
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The first page of the home feed, kept in memory while PostgreSQL says nothing changed.
///
/// Correctness rules: a page is served only while this process is listening on ``FeedChanges/channel`` (every write
/// to the feed's tables notifies, from any server), never after the earliest `expires_at` on it, and this
/// server's own posts drop it before their response is sent. A page computed while a change arrived is not
/// stored (a generation counter), so a slow read cannot put an old page back.
public final class FeedCache: Service, Sendable {
    struct Entry {
        let generation: UInt64
        let body: String
        let link: String?
        let validUntil: Timestamp
    }

    struct State {
        var listening = false
        var generation: UInt64 = 0
        var pages: [Int: Entry] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let changes: FeedChanges

    public init(settings: ConnectionSettings, logger: Logger) {
        self.changes = FeedChanges(settings: settings, logger: logger)
    }

    /// A cached first page of `limit` items, if one may be served now.
    func page(limit: Int, now: Timestamp) -> (body: String, link: String?)? {
        state.withLockedValue { state in
            guard state.listening, let entry = state.pages[limit], entry.generation == state.generation,
                now.microsecondsSinceEpoch < entry.validUntil.microsecondsSinceEpoch
            else { return nil }
            return (entry.body, entry.link)
        }
    }

    /// The generation to pass to ``store(limit:generation:body:link:validUntil:)`` after reading the page.
    func currentGeneration() -> UInt64 {
        state.withLockedValue { $0.generation }
    }

    /// The longest a page is kept, even when nothing on it expires sooner and no change is notified.
    static let maximumAge: Duration = .seconds(60)

    /// Keeps a page read at `generation` (unless something changed since) until the first activity on it expires,
    /// and ``maximumAge`` at most.
    func store(limit: Int, generation: UInt64, body: String, link: String?, page: [FeedActivity], readAt now: Timestamp) {
        let cap = Timestamp(microsecondsSinceEpoch: now.microsecondsSinceEpoch + Self.maximumAge.components.seconds * 1_000_000)
        let validUntil = min(page.map(\.expiresAt).min() ?? cap, cap)
        state.withLockedValue { state in
            guard state.listening, state.generation == generation else { return }
            state.pages[limit] = Entry(generation: generation, body: body, link: link, validUntil: validUntil)
        }
    }

    /// Drops every page (a post by this server, or a notification from PostgreSQL).
    func invalidate() {
        state.withLockedValue { state in
            state.generation &+= 1
            state.pages.removeAll(keepingCapacity: true)
        }
    }

    private func setListening(_ listening: Bool) {
        state.withLockedValue { state in
            state.listening = listening
            state.generation &+= 1
            state.pages.removeAll(keepingCapacity: true)
        }
    }

    /// Follows the database's feed changes until shutdown; while not listening (database down, reconnecting),
    /// nothing is cached.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.changes.follow(listening: { self.setListening($0) }, changed: { self.invalidate() })
        }
    }
}
