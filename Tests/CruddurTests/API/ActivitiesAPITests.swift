import CruddurAPI
import CruddurDatabase
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("API: feed and posting on a real PostgreSQL", .serialized)
struct ActivitiesAPITests {
    @Test("the feed shows the seed activity with every seed field")
    func seedFeed() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/api/activities/home", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let items = try #require(try response.json() as? [[String: Any]])
                #expect(items.count == 1)
                let item = try #require(items.first)
                #expect(
                    Set(item.keys) == [
                        "uuid", "display_name", "handle", "message", "replies_count", "reposts_count", "likes_count",
                        "reply_to_activity_uuid", "expires_at", "created_at",
                    ])
                #expect(item["handle"] as? String == "jess-bk")
                #expect(item["display_name"] as? String == "Jess BK")
                #expect(item["message"] as? String == "This was imported as seed data!")
                #expect(item["replies_count"] as? Int == 0)
                #expect(item["reply_to_activity_uuid"] is NSNull)
                #expect(isISO8601(item["created_at"]) && isISO8601(item["expires_at"]))
                #expect(response.headers[.link] == nil)
            }
        }
    }

    @Test("a post comes back as the seed's object and shows first in the feed")
    func postThenFeed() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let created = try await client.execute(
                uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
                body: jsonBody(["user_handle": "bayko", "message": "Hello <b>Cruddur</b> \"quoted\" ✨", "ttl": "7-days"])
            ) { response in
                #expect(response.status == .ok)
                let object = try #require(try response.json() as? [String: Any])
                #expect(Set(object.keys) == ["uuid", "display_name", "handle", "message", "created_at", "expires_at"])
                #expect(object["handle"] as? String == "bayko")
                #expect(object["display_name"] as? String == "Andrew Bayko")
                #expect(object["message"] as? String == "Hello <b>Cruddur</b> \"quoted\" ✨")
                return try #require(object["uuid"] as? String)
            }
            try await client.execute(uri: "/api/activities/home", method: .get) { response in
                let items = try #require(try response.json() as? [[String: Any]])
                #expect(items.count == 2)
                #expect(items.first?["uuid"] as? String == created)
            }
        }
    }

    @Test("each TTL expires exactly that long after creation", arguments: ["30-days", "7-days", "3-days", "1-day", "12-hours", "3-hours", "1-hour"])
    func ttlExpiry(ttl: String) async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let seconds = [
            "30-days": 2_592_000, "7-days": 604_800, "3-days": 259_200, "1-day": 86_400,
            "12-hours": 43_200, "3-hours": 10_800, "1-hour": 3_600,
        ][ttl]!
        try await withTestApp(database: database) { client in
            try await client.execute(
                uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
                body: jsonBody(["user_handle": "bayko", "message": "ttl \(ttl)", "ttl": ttl])
            ) { response in
                #expect(response.status == .ok)
                let object = try #require(try response.json() as? [String: Any])
                let created = try #require(parseISO8601(object["created_at"]))
                let expires = try #require(parseISO8601(object["expires_at"]))
                #expect(abs(expires.timeIntervalSince(created) - Double(seconds)) < 0.001)
            }
        }
    }

    @Test(
        "each validation code, and all that apply at once",
        arguments: [
            (["user_handle": "bayko", "message": "", "ttl": "1-day"], ["message_blank"]),
            (["user_handle": "bayko", "message": "   \n", "ttl": "1-day"], ["message_blank"]),
            (["user_handle": "bayko", "message": String(repeating: "é", count: 281), "ttl": "1-day"], ["message_exceed_max_chars"]),
            (["user_handle": "", "message": "hi", "ttl": "1-day"], ["user_handle_blank"]),
            (["message": "hi", "ttl": "1-day"], ["user_handle_blank"]),
            (["user_handle": "bayko", "message": "hi"], ["ttl_blank"]),
            (["user_handle": "bayko", "message": "hi", "ttl": "2-days"], ["ttl_blank"]),
            (["user_handle": "nobody", "message": "hi", "ttl": "1-day"], ["user_handle_not_found"]),
            ([:], ["message_blank", "user_handle_blank", "ttl_blank"]),
            (["user_handle": "nobody", "message": "", "ttl": "forever"], ["message_blank", "ttl_blank", "user_handle_not_found"]),
        ] as [([String: String], [String])])
    func validation(body: [String: String], codes: [String]) async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/api/activities", method: .post, headers: [.contentType: "application/json"], body: jsonBody(body)) {
                response in
                #expect(response.status == .unprocessableContent)
                let json = try response.json()
                #expect(json as? [String] == codes)
            }
        }
        #expect(try await activityCount(database) == before)
    }

    @Test("280 code points are accepted (emoji count as code points, not UTF-16 units)")
    func exactlyMaximum() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let message = String(repeating: "😀", count: 280)
        try await withTestApp(database: database) { client in
            try await client.execute(
                uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
                body: jsonBody(["user_handle": "bayko", "message": message, "ttl": "1-hour"])
            ) { response in
                #expect(response.status == .ok)
                let json = try response.json()
                #expect((json as? [String: Any])?["message"] as? String == message)
            }
        }
    }

    @Test("malformed requests: a 4xx with a JSON error, and nothing written")
    func badInputCorpus() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        let corpus = BadInput.corpus
        try await withTestApp(database: database) { client in
            for input in corpus {
                try await client.execute(uri: "/api/activities", method: .post, headers: [.contentType: "application/json"], body: input.body) {
                    response in
                    #expect((400..<500).contains(response.status.code), "\(input.name): \(response.status)")
                    #expect(response.status.code == input.status, "\(input.name)")
                    let object = try? response.json() as? [String: Any]
                    #expect(object?["error"] is String, "\(input.name): \(response.text)")
                    #expect(object?["message"] is String, "\(input.name)")
                }
            }
        }
        #expect(try await activityCount(database) == before)
    }

    @Test("feed query strings: bad limits and cursors are a 400, big limits are clamped")
    func feedQueries() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            for query in ["limit=0", "limit=-3", "limit=abc", "limit=1.5", "limit=", "limit=%00", "cursor=nope", "cursor=1_2", "limit=5&cursor=x"] {
                try await client.execute(uri: "/api/activities/home?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect((try? response.json() as? [String: Any])?["error"] is String)
                }
            }
            try await client.execute(uri: "/api/activities/home?limit=100000", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("headers are checked before the body: a malformed Idempotency-Key wins over a malformed body")
    func headersBeforeBody() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            try await client.execute(
                uri: "/api/activities", method: .post,
                headers: [.contentType: "application/json", .idempotencyKey: "two words"], body: ByteBuffer(string: "{not json")
            ) { response in
                #expect(response.status == .badRequest)
                #expect(response.text.contains("invalid_idempotency_key"), "\(response.text)")
            }
        }
    }

    /// PostgresNIO ends an INSERT at its CommandComplete, before the implicit transaction commits; the server must not
    /// answer 200 until the commit is confirmed (issue 12: `scripts/soak` found 200s for rows that a PostgreSQL
    /// shutdown had kept from committing). A deferred constraint trigger makes the commit itself fail, every time.
    @Test("a post whose commit fails is never a 200 and leaves no row, with or without an Idempotency-Key")
    func commitFailure() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestConnection(database) { connection in
            try await connection.query(
                """
                CREATE FUNCTION public.refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.message LIKE 'refused at commit%' THEN RAISE EXCEPTION 'refused at commit'; END IF;
                  RETURN NULL;
                END $$
                """, logger: TestPostgres.logger
            ).collect()
            try await connection.query(
                """
                CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON public.activities
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse_at_commit()
                """, logger: TestPostgres.logger
            ).collect()
        }
        let before = try await activityCount(database)
        try await withTestApp(database: database) { client in
            for key in [nil, "commit-check-1"] as [String?] {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let key { headers[.idempotencyKey] = key }
                let body = jsonBody(["user_handle": "bayko", "message": "refused at commit", "ttl": "1-day"])
                try await client.execute(uri: "/api/activities", method: .post, headers: headers, body: body) { response in
                    #expect(response.status.code >= 500, "key \(key ?? "none"): \(response.status) \(response.text)")
                    #expect(!response.text.contains("\"uuid\""), "\(response.text)")
                }
            }
            #expect(try await activityCount(database) == before)
            // The pool replaces the connection the failed commit closed: the next post is stored.
            try await client.execute(
                uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
                body: jsonBody(["user_handle": "bayko", "message": "committed", "ttl": "1-day"])
            ) { response in
                #expect(response.status == .ok, "\(response.text)")
            }
            #expect(try await activityCount(database) == before + 1)
        }
    }

    @Test("pagination walks the whole feed, newest first, without overlap, also across equal timestamps")
    func pagination() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        // 95 activities, in groups of 5 sharing one created_at, so the uuid tie-break matters.
        try await withTestConnection(database) { connection in
            try await connection.query(
                """
                INSERT INTO public.activities (user_uuid, message, created_at, expires_at)
                SELECT (SELECT uuid FROM public.users WHERE handle = 'bayko'), 'bulk ' || n,
                       now() - (n / 5) * interval '1 minute', now() + interval '1 day'
                FROM generate_series(1, 95) AS n
                """, logger: TestPostgres.logger
            ).collect()
        }
        try await withTestApp(database: database) { client in
            var seen: [String] = []
            var createdTimes: [String] = []
            var next: String? = "/api/activities/home?limit=10"
            var pages = 0
            while let uri = next {
                pages += 1
                try #require(pages < 20)
                next = try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    let items = try #require(try response.json() as? [[String: Any]])
                    seen += items.compactMap { $0["uuid"] as? String }
                    createdTimes += items.compactMap { $0["created_at"] as? String }
                    return response.headers[.link].flatMap(nextLink)
                }
            }
            #expect(seen.count == 96)
            #expect(Set(seen).count == 96)
            #expect(createdTimes == createdTimes.sorted(by: >))
            #expect(pages == 10)
        }
    }

    @Test("expired activities are hidden at once and purged in the background")
    func expiry() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestConnection(database) { connection in
            try await connection.query(
                """
                INSERT INTO public.activities (user_uuid, message, created_at, expires_at)
                SELECT (SELECT uuid FROM public.users WHERE handle = 'bayko'), 'expired ' || n,
                       now() - interval '2 hours', now() - interval '1 second' * n
                FROM generate_series(1, 1234) AS n
                """, logger: TestPostgres.logger
            ).collect()
        }
        #expect(try await activityCount(database) == 1235)
        try await withTestApp(
            database: database,
            configure: {
                $0.purgeInterval = .milliseconds(200)
                $0.purgeBatchSize = 100
            }
        ) { client in
            try await client.execute(uri: "/api/activities/home?limit=40", method: .get) { response in
                let items = try #require(try response.json() as? [[String: Any]])
                #expect(items.count == 1)
                #expect(items.first?["message"] as? String == "This was imported as seed data!")
            }
            let deadline = ContinuousClock.now + .seconds(15)
            while try await activityCount(database) > 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(try await activityCount(database) == 1)
    }

    @Test("hundreds of concurrent posts: every one answered 200 and stored")
    func concurrentPosts() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        let statuses = try await withTestApp(database: database, framework: .live) { client in
            try await withThrowingTaskGroup(of: UInt16.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        try await client.execute(
                            uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
                            body: jsonBody(["user_handle": index % 2 == 0 ? "bayko" : "jess-bk", "message": "concurrent \(index)", "ttl": "1-day"])
                        ) { UInt16($0.status.code) }
                    }
                }
                var statuses: [UInt16] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
        }
        #expect(statuses.count == 300)
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(try await activityCount(database) == before + 300)
    }

    @Test("health is 200 with the database up")
    func healthUp() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/api/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("with the database unreachable: health and the API answer 503 with a JSON error, in bounded time")
    func databaseDown() async throws {
        let unreachable = ConnectionSettings(
            endpoint: .unixSocket(directory: "/tmp/cruddur-no-such-server-\(UUID().uuidString.prefix(8))", port: 5432),
            username: "postgres", password: nil, database: "cruddur", connectTimeout: .seconds(1)
        )
        try await withTestApp(database: unreachable, configure: { $0.queryDeadline = .seconds(1) }) { client in
            for (uri, method, body) in [
                ("/api/health", HTTPRequest.Method.get, nil as ByteBuffer?),
                ("/api/activities/home", .get, nil),
                ("/api/activities", .post, jsonBody(["user_handle": "bayko", "message": "hi", "ttl": "1-day"])),
            ] {
                let start = ContinuousClock.now
                try await client.execute(uri: uri, method: method, headers: [.contentType: "application/json"], body: body) { response in
                    #expect(response.status == .serviceUnavailable, "\(uri)")
                    #expect((try? response.json() as? [String: Any])?["error"] as? String == "database_unavailable")
                }
                #expect(ContinuousClock.now - start < .seconds(4))
            }
        }
    }

    @Test("CORS: preflight for FRONTEND_URL allows the API's headers; Link is exposed")
    func cors() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, configure: { $0.frontendURL = "https://cruddur.example" }) { client in
            try await client.execute(
                uri: "/api/activities", method: .options,
                headers: [.origin: "https://cruddur.example", .accessControlRequestMethod: "POST"]
            ) { response in
                #expect(response.status == .noContent || response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == "https://cruddur.example")
                let allowed = (response.headers[.accessControlAllowHeaders] ?? "").lowercased()
                #expect(allowed.contains("content-type") && allowed.contains("authorization") && allowed.contains("idempotency-key"))
                #expect((response.headers[.accessControlAllowMethods] ?? "").contains("POST"))
            }
            try await client.execute(uri: "/api/activities/home", method: .get, headers: [.origin: "https://cruddur.example"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://cruddur.example")
                #expect(response.headers[.accessControlExposeHeaders]?.contains("Link") == true)
            }
        }
    }

    @Test("unknown routes and methods answer with the JSON error shape")
    func notFound() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withTestApp(database: database) { client in
            try await client.execute(uri: "/api/nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect((try? response.json() as? [String: Any])?["error"] as? String == "not_found")
            }
        }
    }
}

/// Bodies that are not well-formed posts, with the status each must get.
enum BadInput {
    struct Case {
        let name: String
        let body: ByteBuffer?
        let status: Int
    }

    static var corpus: [Case] {
        var cases: [Case] = []
        func add(_ name: String, _ text: String, _ status: Int = 400) {
            cases.append(Case(name: name, body: ByteBuffer(string: text), status: status))
        }
        cases.append(Case(name: "no body", body: nil, status: 400))
        add("empty body", "")
        add("whitespace", "   ")
        add("truncated JSON", #"{"user_handle": "bayko", "message": "hi""#)
        add("trailing garbage", #"{"user_handle": "bayko", "message": "hi", "ttl": "1-day"} x"#)
        add("single quotes", #"{'user_handle': 'bayko'}"#)
        add("form encoding", "user_handle=bayko&message=hi&ttl=1-day")
        add("JSON array", #"[{"user_handle": "bayko", "message": "hi", "ttl": "1-day"}]"#)
        add("JSON string", #""hello""#)
        add("JSON number", "42")
        add("JSON null", "null")
        add("JSON true", "true")
        for field in ["user_handle", "message", "ttl"] {
            for (kind, value) in [("number", "1"), ("boolean", "true"), ("object", #"{"a": 1}"#), ("array", #"["x"]"#), ("float", "1.5e300")] {
                let others = ["user_handle": #""bayko""#, "message": #""hi""#, "ttl": #""1-day""#]
                    .filter { $0.key != field }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
                add("\(field) as \(kind)", "{\"\(field)\": \(value), \(others)}")
            }
        }
        add("NUL in message", #"{"user_handle": "bayko", "message": "a\u0000b", "ttl": "1-day"}"#)
        add("NUL in handle", #"{"user_handle": "bay\u0000ko", "message": "hi", "ttl": "1-day"}"#)
        add("NUL in ttl", #"{"user_handle": "bayko", "message": "hi", "ttl": "1-day\u0000"}"#)
        add("deep nesting", String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000))
        var invalidUTF8 = ByteBuffer(string: #"{"user_handle": "bayko", "message": ""#)
        invalidUTF8.writeBytes([0xC3, 0x28, 0xFF, 0xFE])
        invalidUTF8.writeString(#"", "ttl": "1-day"}"#)
        cases.append(Case(name: "invalid UTF-8", body: invalidUTF8, status: 400))
        var overlong = ByteBuffer(string: #"{"user_handle": "bayko", "message": ""#)
        overlong.writeBytes([0xC0, 0xAF])
        overlong.writeString(#"", "ttl": "1-day"}"#)
        cases.append(Case(name: "overlong UTF-8", body: overlong, status: 400))
        add("oversized body", "{\"user_handle\": \"bayko\", \"message\": \"\(String(repeating: "x", count: 40_000))\", \"ttl\": \"1-day\"}", 413)
        return cases
    }
}

func isISO8601(_ value: Any?) -> Bool {
    parseISO8601(value) != nil
}

func parseISO8601(_ value: Any?) -> Date? {
    guard let text = value as? String else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}

/// The URI inside `<…>; rel="next"`.
func nextLink(_ header: String) -> String? {
    guard header.contains(#"rel="next""#), let open = header.firstIndex(of: "<"), let close = header.firstIndex(of: ">") else { return nil }
    return String(header[header.index(after: open)..<close])
}
