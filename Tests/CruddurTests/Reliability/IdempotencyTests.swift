import CruddurAPI
import CruddurDatabase
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

/// Posts `message` as `handle` with an `Idempotency-Key`; returns the status, the body and the replay header.
private func post(
    _ client: any TestClientProtocol, handle: String = "bayko", message: String, ttl: String = "1-day", key: String?
) async throws -> (status: HTTPResponse.Status, body: String, replayed: Bool) {
    var headers: HTTPFields = [.contentType: "application/json"]
    if let key { headers[.idempotencyKey] = key }
    return try await client.execute(
        uri: "/api/activities", method: .post, headers: headers,
        body: jsonBody(["user_handle": handle, "message": message, "ttl": ttl])
    ) { response in
        (response.status, response.text, response.headers[.idempotentReplayed] == "true")
    }
}

private func uuid(_ body: String) -> String? {
    (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["uuid"] as? String
}

private func rows(_ settings: ConnectionSettings, _ sql: String) async throws -> Int {
    try await withTestConnection(settings) { connection in
        for try await count in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.logger).decode(Int.self) {
            return count
        }
        return -1
    }
}

@Suite("Idempotent posting: Idempotency-Key makes retries safe", .serialized)
struct IdempotencyTests {
    @Test("a retry with the same key and body returns the first result and writes nothing")
    func retryReplays() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let first = try await post(client, message: "only once", key: "key-1")
            #expect(first.status == .ok && !first.replayed)
            let retry = try await post(client, message: "only once", key: "key-1")
            #expect(retry.status == .ok && retry.replayed)
            #expect(retry.body == first.body)
            let withoutKey = try await post(client, message: "only once", key: nil)
            #expect(withoutKey.status == .ok && uuid(withoutKey.body) != uuid(first.body))
        }
        #expect(try await rows(database, "SELECT count(*)::int FROM activities WHERE message = 'only once'") == 2)
    }

    @Test("the same key with a different body is a 422 idempotency_key_reused, and nothing is written")
    func reusedKey() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            #expect(try await post(client, message: "first", key: "reused").status == .ok)
            for (message, ttl) in [("second", "1-day"), ("first", "7-days")] {
                let reused = try await post(client, message: message, ttl: ttl, key: "reused")
                #expect(reused.status == .unprocessableContent)
                #expect(reused.body == #"["idempotency_key_reused"]"#)
            }
        }
        #expect(try await rows(database, "SELECT count(*)::int FROM activities WHERE message IN ('first', 'second')") == 1)
    }

    @Test("keys are scoped to the author: another author's same key neither replays nor blocks")
    func scopedToAuthor() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let bayko = try await post(client, handle: "bayko", message: "shared key", key: "same-key")
            let jess = try await post(client, handle: "jess-bk", message: "shared key", key: "same-key")
            #expect(bayko.status == .ok && jess.status == .ok && !jess.replayed)
            #expect(uuid(bayko.body) != uuid(jess.body))
            #expect(jess.body.contains(#""handle":"jess-bk""#))
            let unknown = try await post(client, handle: "nobody", message: "shared key", key: "same-key")
            #expect(unknown.status == .unprocessableContent && unknown.body == #"["user_handle_not_found"]"#)
        }
        #expect(try await rows(database, "SELECT count(*)::int FROM activities WHERE message = 'shared key'") == 2)
    }

    @Test("concurrent retries while the first is in flight: one row, every answer the same activity")
    func concurrentRetries() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, framework: .live) { client in
            let replies = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String, Bool).self) { group in
                for _ in 0..<12 {
                    group.addTask { try await post(client, message: "racing", key: "race-key") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.0 == .ok }, "\(replies.map(\.0))")
            #expect(Set(replies.compactMap { uuid($0.1) }).count == 1)
            #expect(replies.filter { !$0.2 }.count == 1, "exactly one request created the activity")
        }
        #expect(try await rows(database, "SELECT count(*)::int FROM activities WHERE message = 'racing'") == 1)
    }

    @Test("malformed keys are a 400 and write nothing", arguments: ["", String(repeating: "k", count: 256), "café", "tab\there", "space here"])
    func malformedKey(key: String) async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let reply = try await post(client, message: "bad key", key: key)
            #expect(reply.status == .badRequest, "\(reply.body)")
            #expect(reply.body.contains(#""error":"invalid_idempotency_key""#))
        }
        #expect(try await rows(database, "SELECT count(*)::int FROM activities WHERE message = 'bad key'") == 0)
    }

    @Test("a post that fails validation stores no key: the corrected retry with the same key succeeds")
    func validationFailureKeepsKeyFree() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let invalid = try await post(client, message: "", key: "fix-me")
            #expect(invalid.status == .unprocessableContent && invalid.body == #"["message_blank"]"#)
            let fixed = try await post(client, message: "fixed", key: "fix-me")
            #expect(fixed.status == .ok && !fixed.replayed)
        }
        #expect(try await rows(database, "SELECT count(*)::int FROM idempotency_keys") == 1)
    }

    @Test("keys are kept 24 hours: an older key is forgotten by the purge, and never replayed before it")
    func keysExpire() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let first = try await post(client, message: "yesterday", key: "old-key")
            try await withTestConnection(database) { connection in
                try await connection.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'", logger: TestPostgres.logger)
                    .collect()
            }
            let later = try await post(client, message: "today", key: "old-key")
            #expect(later.status == .ok && !later.replayed)
            #expect(uuid(later.body) != uuid(first.body))
        }
        try await withTestConnection(database) { connection in
            try await connection.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'", logger: TestPostgres.logger).collect()
        }
        let pool = try DatabasePool(settings: database, size: 1, logger: TestPostgres.logger)
        let running = Task { try await pool.run() }
        let purged = try await ActivityRepository(pool: pool, logger: TestPostgres.logger).purgeStaleIdempotencyKeys(batchSize: 10)
        running.cancel()
        #expect(purged == 1)
        #expect(try await rows(database, "SELECT count(*)::int FROM idempotency_keys") == 0)
    }
}
