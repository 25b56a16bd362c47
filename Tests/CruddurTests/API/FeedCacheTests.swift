import CruddurAPI
import CruddurDatabase
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

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

/// Waits until `count` servers' caches listen on the database (their LISTEN sessions show in `pg_stat_activity`).
private func waitUntilListening(_ database: ConnectionSettings, count: Int = 1) async throws {
    let deadline = ContinuousClock.now + .seconds(15)
    while ContinuousClock.now < deadline {
        let listening = try await withTestConnection(database.with(database: "postgres")) { connection in
            let rows = try await connection.query(
                """
                SELECT count(*)::int FROM pg_stat_activity
                WHERE datname = \(database.database) AND application_name = 'cruddur-api-listen' AND query LIKE 'LISTEN%'
                """, logger: TestPostgres.logger)
            for try await value in rows.decode(Int.self) { return value }
            return 0
        }
        if listening >= count {
            try await Task.sleep(for: .milliseconds(100))
            return
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("the feed cache did not start listening")
}

@Suite("Feed cache: fast first page, never stale after a write from anywhere, never past expiry", .serialized)
struct FeedCacheTests {
    @Test("this server's post is on its very next read")
    func ownPostVisibleAtOnce() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.feedCache = true }) { client in
            try await waitUntilListening(database)
            for index in 0..<5 {
                _ = try await firstPage(client)
                try await post(client, "mine \(index)")
                #expect(try await firstPage(client).first == "mine \(index)")
            }
        }
    }

    @Test("a write by another server (or by SQL) reaches this server's cache through NOTIFY")
    func otherWritersInvalidate() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.feedCache = true }) { first in
            try await withTestApp(database: database, configure: { $0.feedCache = true }) { second in
                try await waitUntilListening(database, count: 2)
                #expect(try await firstPage(first) == ["This was imported as seed data!"])

                try await post(second, "from the second server")
                let seen = try await eventually(first) { $0.first == "from the second server" }
                #expect(seen.first == "from the second server")

                try await withTestConnection(database) { connection in
                    try await connection.query("UPDATE users SET display_name = 'Renamed' WHERE handle = 'bayko'", logger: TestPostgres.logger)
                        .collect()
                }
                let deadline = ContinuousClock.now + .seconds(5)
                var names: [String] = []
                repeat {
                    names = try await first.execute(uri: "/api/activities/home", method: .get) { response in
                        (try response.json() as? [[String: Any]])?.compactMap { $0["display_name"] as? String } ?? []
                    }
                    if names.first == "Renamed" { break }
                    try await Task.sleep(for: .milliseconds(20))
                } while ContinuousClock.now < deadline
                #expect(names.first == "Renamed")

                try await withTestConnection(database) { connection in
                    try await connection.query("DELETE FROM activities WHERE message = 'from the second server'", logger: TestPostgres.logger)
                        .collect()
                }
                let afterDelete = try await eventually(first) { $0.first != "from the second server" }
                #expect(afterDelete == ["This was imported as seed data!"])
            }
        }
    }

    @Test("a cached page is never served past the earliest expires_at on it")
    func neverPastExpiry() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.feedCache = true }) { client in
            try await waitUntilListening(database)
            try await withTestConnection(database) { connection in
                try await connection.query(
                    """
                    INSERT INTO activities (user_uuid, message, expires_at)
                    SELECT uuid, 'short-lived', now() + interval '1.5 seconds' FROM users WHERE handle = 'bayko'
                    """, logger: TestPostgres.logger
                ).collect()
            }
            let before = try await eventually(client) { $0.first == "short-lived" }
            #expect(before.first == "short-lived")
            let expiresAt = ContinuousClock.now + .milliseconds(1500)
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

    @Test("repeated reads of an unchanged feed are served from memory, and FEED_CACHE off reads every time")
    func cacheHits() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let silentInsert = [
            "ALTER TABLE activities DISABLE TRIGGER activities_notify_feed_change",
            "INSERT INTO activities (user_uuid, message, expires_at) SELECT uuid, 'behind the cache', now() + interval '1 day' FROM users WHERE handle = 'bayko'",
            "ALTER TABLE activities ENABLE TRIGGER activities_notify_feed_change",
        ]
        try await withTestApp(database: database, configure: { $0.feedCache = true }) { client in
            try await waitUntilListening(database)
            #expect(try await firstPage(client) == ["This was imported as seed data!"])
            try await withTestConnection(database) { connection in
                for statement in silentInsert {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestPostgres.logger).collect()
                }
            }
            // No notification was sent, so the cached page is what a read gets: proof it came from memory.
            for _ in 0..<20 {
                #expect(try await firstPage(client) == ["This was imported as seed data!"])
            }
        }
        let uncached = try await withTestApp(database: database) { client in try await firstPage(client) }
        #expect(uncached.first == "behind the cache")
    }
}
