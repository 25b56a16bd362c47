import CruddurDatabase
import CruddurDomain
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

@testable import CruddurAPI

/// The messages of the first feed page, newest first.
private func firstPage(_ client: any TestClientProtocol) async throws -> [String] {
    try await client.execute(uri: "/api/activities/home", method: .get) { response in
        #expect(response.status == .ok)
        let items = try #require(try response.json() as? [[String: Any]])
        return items.compactMap { $0["message"] as? String }
    }
}

private func post(_ client: any TestClientProtocol, _ message: String) async throws {
    try await client.execute(
        uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
        body: jsonBody(["user_handle": "bayko", "message": message, "ttl": "1-day"])
    ) {
        response in
        #expect(response.status == .ok)
    }
}

/// Polls the first page until `condition` holds or `timeout` passes.
private func eventually(_ client: any TestClientProtocol, timeout: Duration = .seconds(5), _ condition: ([String]) -> Bool) async throws -> [String] {
    let deadline = ContinuousClock.now + timeout
    var page = try await firstPage(client)
    while !condition(page), ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
        page = try await firstPage(client)
    }
    return page
}

@Suite("Feed cache: fast first page, stale by at most FEED_CACHE_MAX_AGE_MS from anywhere, never past expiry", .serialized)
struct FeedCacheTests {
    @Test("this server's post is on its very next read")
    func ownPostVisibleAtOnce() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.feedCache = true }) { client in
            for index in 0..<5 {
                _ = try await firstPage(client)
                try await post(client, "mine \(index)")
                #expect(try await firstPage(client).first == "mine \(index)")
            }
        }
    }

    @Test("a change by another server or by SQL is on every read that arrives FEED_CACHE_MAX_AGE_MS after it committed")
    func otherWritersWithinMaxAge() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let maxAge = Duration.milliseconds(200)
        let configure: @Sendable (inout APIConfiguration) -> Void = {
            $0.feedCache = true
            $0.feedCacheMaxAge = maxAge
        }
        try await withTestApp(database: database, configure: configure) { first in
            try await withTestApp(database: database, configure: configure) { second in
                #expect(try await firstPage(first) == ["This was imported as seed data!"])

                try await post(second, "from the second server")
                try await Task.sleep(for: maxAge)
                #expect(try await firstPage(first).first == "from the second server")

                try await withTestConnection(database) { connection in
                    try await connection.query("UPDATE users SET display_name = 'Renamed' WHERE handle = 'bayko'", logger: TestPostgres.logger)
                        .collect()
                }
                try await Task.sleep(for: maxAge)
                let names = try await first.execute(uri: "/api/activities/home", method: .get) { response in
                    (try response.json() as? [[String: Any]])?.compactMap { $0["display_name"] as? String } ?? []
                }
                #expect(names.first == "Renamed")

                try await withTestConnection(database) { connection in
                    try await connection.query("DELETE FROM activities WHERE message = 'from the second server'", logger: TestPostgres.logger)
                        .collect()
                }
                try await Task.sleep(for: maxAge)
                #expect(try await firstPage(first) == ["This was imported as seed data!"])
            }
        }
    }

    @Test("a cached page is never served past the earliest expires_at on it")
    func neverPastExpiry() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let configure: @Sendable (inout APIConfiguration) -> Void = {
            $0.feedCache = true
            $0.feedCacheMaxAge = .seconds(1)
        }
        try await withTestApp(database: database, configure: configure) { client in
            try await withTestConnection(database) { connection in
                try await connection.query(
                    """
                    INSERT INTO activities (user_uuid, message, expires_at)
                    SELECT uuid, 'short-lived', now() + interval '1.5 seconds' FROM users WHERE handle = 'bayko'
                    """, logger: TestPostgres.logger
                ).collect()
            }
            let expiresAt = ContinuousClock.now + .milliseconds(1500)
            let before = try await eventually(client) { $0.first == "short-lived" }
            #expect(before.first == "short-lived")
            var servedLate = false
            while ContinuousClock.now < expiresAt + .seconds(1) {
                let page = try await firstPage(client)
                if ContinuousClock.now > expiresAt + .milliseconds(50), page.contains("short-lived") { servedLate = true }
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(!servedLate, "an expired activity was served from the cache")
            #expect(try await firstPage(client) == ["This was imported as seed data!"])
        }
    }

    @Test("a page is served until FEED_CACHE_MAX_AGE_MS after its query started, never after, and not once this server posts")
    func window() {
        let cache = FeedCache(maxAge: .milliseconds(500))
        let started = ContinuousClock.now
        let now = Timestamp.now()
        cache.store(limit: 20, generation: cache.currentGeneration(), queryStarted: started, body: ByteBuffer(string: "[]"), link: nil, page: [])
        #expect(cache.page(limit: 20, now: now, instant: started)?.body == ByteBuffer(string: "[]"))
        #expect(cache.page(limit: 20, now: now, instant: started + .milliseconds(499))?.body == ByteBuffer(string: "[]"))
        #expect(cache.page(limit: 20, now: now, instant: started + .milliseconds(500)) == nil)
        #expect(cache.page(limit: 40, now: now, instant: started) == nil, "pages are kept per limit")
        // A read that started before this server's post must not store its older page after the post.
        let generation = cache.currentGeneration()
        cache.invalidate()
        #expect(cache.page(limit: 20, now: now, instant: started) == nil)
        cache.store(limit: 20, generation: generation, queryStarted: started, body: ByteBuffer(string: "[\"old\"]"), link: nil, page: [])
        #expect(cache.page(limit: 20, now: now, instant: started) == nil)
        #expect(FeedCache(maxAge: .seconds(5)).maxAge == .seconds(1), "one second at most")
    }

    @Test("reads within FEED_CACHE_MAX_AGE_MS are served from memory, and FEED_CACHE off reads every time")
    func cacheHits() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let configure: @Sendable (inout APIConfiguration) -> Void = {
            $0.feedCache = true
            $0.feedCacheMaxAge = .seconds(1)
        }
        try await withTestApp(database: database, configure: configure) { client in
            let cachedAt = ContinuousClock.now
            #expect(try await firstPage(client) == ["This was imported as seed data!"])
            // The page's query started between `cachedAt` and now.
            let queryDone = ContinuousClock.now
            try await withTestConnection(database) { connection in
                try await connection.query(
                    "INSERT INTO activities (user_uuid, message, expires_at) SELECT uuid, 'behind the cache', now() + interval '1 day' FROM users WHERE handle = 'bayko'",
                    logger: TestPostgres.logger
                ).collect()
            }
            // Written by SQL, not through this server: until the page's age passes, reads come from memory. (On a
            // machine so loaded that the second passed already, only the rest is checked; `window` checks the rule.)
            let page = try await firstPage(client)
            if ContinuousClock.now < cachedAt + .milliseconds(900) {
                #expect(page == ["This was imported as seed data!"])
            }
            try await Task.sleep(until: queryDone + .seconds(1))
            #expect(try await firstPage(client).first == "behind the cache")
        }
        try await withTestApp(database: database) { client in
            #expect(try await firstPage(client).first == "behind the cache")
            try await withTestConnection(database) { connection in
                try await connection.query("DELETE FROM activities WHERE message = 'behind the cache'", logger: TestPostgres.logger).collect()
            }
            #expect(try await firstPage(client) == ["This was imported as seed data!"])
        }
    }
}
