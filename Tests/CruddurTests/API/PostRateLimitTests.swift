import AsyncHTTPClient
import CruddurAPI
import CruddurDatabase
import CruddurDomain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Issue 14, item 17: `POST_RATE_LIMIT`, kept by the database, exact under concurrency.
@Suite("API: the posting rate limit per author", .serialized)
struct PostRateLimitTests {
    static func post(
        _ client: any TestClientProtocol, handle: String = "bayko", message: String = "counted", key: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.idempotencyKey] = key }
        return try await client.execute(
            uri: "/api/activities", method: .post, headers: headers,
            body: jsonBody(["user_handle": handle, "message": message, "ttl": "1-day"])
        ) { $0 }
    }

    @Test("past the limit a post is 429 with Retry-After and the JSON error, nothing is written, and other authors still post")
    func refusedPastTheLimit() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.postRateLimit = PostRateLimit(posts: 3, windowSeconds: 3_600) }) { client in
            for index in 0..<3 {
                #expect(try await Self.post(client, message: "post \(index)").status == .ok)
            }
            let before = try await activityCount(database)
            let refused = try await Self.post(client)
            #expect(refused.status == .tooManyRequests)
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((3_590...3_600).contains(retryAfter), "\(retryAfter)")
            let json = try refused.json() as? [String: String]
            #expect(json?["error"] == "rate_limited")
            #expect(try await activityCount(database) == before)
            #expect(try await Self.post(client, handle: "jess-bk").status == .ok)
        }
    }

    @Test("a new window starts once the last one has passed")
    func windowResets() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.postRateLimit = PostRateLimit(posts: 2, windowSeconds: 60) }) { client in
            #expect(try await Self.post(client).status == .ok)
            #expect(try await Self.post(client).status == .ok)
            #expect(try await Self.post(client).status == .tooManyRequests)
            // The window's start moves back past the window (time passing, without waiting on a loaded machine's
            // clock): short of it the limit still holds, past it a new window starts. The margin short of it is 15 s,
            // not 1: the post comes after the update, and under the whole suite's load that took over a second once.
            for (secondsAgo, expected) in [(45, HTTPResponse.Status.tooManyRequests), (61, .ok)] {
                try await withTestConnection(database) { connection in
                    try await connection.query(
                        "UPDATE public.post_allowances SET window_started_at = now() - make_interval(secs => \(secondsAgo))",
                        logger: TestPostgres.logger
                    ).collect()
                    return
                }
                #expect(try await Self.post(client).status == expected, "window started \(secondsAgo) s ago")
            }
            #expect(try await Self.post(client).status == .ok)
            #expect(try await Self.post(client).status == .tooManyRequests)
        }
    }

    @Test("exact under concurrent posts by one author: 40 at once against a limit of 10 make 10 rows")
    func exactUnderConcurrency() async throws {
        // 40 commits serialized on one author's counter row: without a flush each, they fit the deadline on a loaded
        // machine (exactness comes from the row lock, not from durability).
        let database = try await TestPostgres.shared.makeDatabase(seeded: true, flushedCommits: false)
        let before = try await activityCount(database)
        let statuses = try await withTestApp(
            database: database, framework: .live,
            configure: {
                $0.postRateLimit = PostRateLimit(posts: 10, windowSeconds: 3_600)
                // 40 posts wait for 8 connections and one row lock: on a loaded machine that can take longer than the
                // default 5 s deadline, which would answer 503 instead of the answer under test.
                $0.queryDeadline = .seconds(60)
            }
        ) { client in
            // HummingbirdTesting's client has one connection, which would send the posts one after another: 40
            // connections of their own make them arrive at once.
            let port = try #require(client.port)
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 40
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            let statuses = await withTaskGroup(of: Int.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/activities")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: #"{"user_handle":"bayko","message":"race \#(index)","ttl":"1-day"}"#))
                        guard let response = try? await http.execute(request, timeout: .seconds(60)) else { return 0 }
                        _ = try? await response.body.collect(upTo: 1 << 16)
                        return Int(response.status.code)
                    }
                }
                return await group.reduce(into: [Int]()) { $0.append($1) }
            }
            try await http.shutdown()
            return statuses
        }
        #expect(statuses.filter { $0 == 200 }.count == 10, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 30, "\(statuses)")
        #expect(try await activityCount(database) == before + 10)
    }

    @Test("a retry with the same Idempotency-Key is not counted, and purged posts still count")
    func retriesAndPurges() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.postRateLimit = PostRateLimit(posts: 2, windowSeconds: 3_600) }) { client in
            #expect(try await Self.post(client, key: "once").status == .ok)
            let replay = try await Self.post(client, key: "once")
            #expect(replay.status == .ok)
            #expect(replay.headers[.idempotentReplayed] == "true")
            #expect(try await Self.post(client).status == .ok)
            // The purge deletes rows; the counter does not go back.
            try await withTestConnection(database) { connection in
                try await connection.query("DELETE FROM public.activities", logger: TestPostgres.logger).collect()
                return
            }
            #expect(try await Self.post(client).status == .tooManyRequests)
            #expect(try await Self.post(client, key: "once").status == .ok, "a replay is still answered past the limit")
        }
    }

    @Test("POST_RATE_LIMIT: COUNT/WINDOW, off, and bad values")
    func settings() throws {
        #expect(try ServeSettings.fromEnvironment([:]).postRateLimit == .standard)
        #expect(PostRateLimit.standard == PostRateLimit(posts: 300, windowSeconds: 10_800))
        #expect(try ServeSettings.fromEnvironment(["POST_RATE_LIMIT": "off"]).postRateLimit == nil)
        for (text, posts, seconds) in [("300/3h", 300, 10_800), ("10/90s", 10, 90), ("5/1d", 5, 86_400), ("1/15m", 1, 900)] {
            #expect(try ServeSettings.fromEnvironment(["POST_RATE_LIMIT": text]).postRateLimit == PostRateLimit(posts: posts, windowSeconds: seconds))
        }
        for bad in ["0/1h", "-1/1h", "+5/1h", "x", "10/", "10/0h", "10/h", "10/3w", "10/1.5h", "300 / 3h"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ServeSettings.fromEnvironment(["POST_RATE_LIMIT": bad]) }
        }
    }
}
