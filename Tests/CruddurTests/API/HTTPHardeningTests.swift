import CruddurAPI
import CruddurDatabase
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Issue 14's HTTP items: each of these failed on the code before it.
@Suite("API: content types, Host, methods, framing and headers", .serialized)
struct HTTPHardeningTests {
    static let post = #"{"user_handle": "bayko", "message": "hardening", "ttl": "1-day"}"#

    @Test(
        "a post that is not application/json is 415 with the JSON error shape and writes nothing",
        arguments: ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", nil]
    )
    func postNeedsJSON(contentType: String?) async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        try await withTestApp(database: database) { client in
            var headers: HTTPFields = [:]
            if let contentType { headers[.contentType] = contentType }
            try await client.execute(uri: "/api/activities", method: .post, headers: headers, body: ByteBuffer(string: Self.post)) { response in
                #expect(response.status == .unsupportedMediaType)
                let json = try response.json() as? [String: String]
                #expect(
                    json == [
                        "error": "unsupported_media_type", "message": "Send the post as Content-Type: application/json.",
                    ])
            }
            try await client.execute(
                uri: "/api/activities", method: .post, headers: [.contentType: "Application/JSON; charset=utf-8"],
                body: ByteBuffer(string: Self.post)
            ) { response in
                #expect(response.status == .ok, "media types are case-insensitive and take parameters")
            }
        }
        #expect(try await activityCount(database) == before + 1)
    }

    @Test("local development mode answers 421 to a Host that is not loopback nor in ALLOWED_HOSTS (DNS rebinding)")
    func hostCheck() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        try await withTestApp(database: database, framework: .live, configure: { $0.extraAllowedHosts = ["cruddur.example"] }) { client in
            let port = try #require(client.port)
            func status(_ method: String, _ path: String, host: String, body: String? = nil) throws -> Int? {
                var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
                if let body {
                    request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                } else {
                    request += "\r\n"
                }
                let response = try RawHTTP.exchange(port: port, request)
                if RawHTTP.status(response) == 421 {
                    #expect(response.contains(#"{"error":"host_not_allowed""#))
                }
                return RawHTTP.status(response)
            }
            for host in [
                "rebound.attacker.example", "rebound.attacker.example:4567", "10.0.0.1", "[::2]", "localhost.attacker.example", "", "localhost:80a",
                "[::1]x", "[::1", ".", "localhost:4567:1",
            ] {
                #expect(try status("GET", "/api/activities/home", host: host) == 421, "\(host)")
                #expect(try status("POST", "/api/activities", host: host, body: Self.post) == 421, "\(host)")
            }
            for host in [
                "localhost", "LOCALHOST:4567", "127.0.0.1", "127.8.9.10:80", "[::1]", "[::1]:4567", "cruddur.example", "Cruddur.Example.:443",
            ] {
                #expect(try status("GET", "/api/activities/home", host: host) == 200, "\(host)")
            }
        }
        #expect(try await activityCount(database) == before)
    }

    @Test("Cognito mode accepts any Host unless ALLOWED_HOSTS lists some; ALLOWED_HOSTS is validated")
    func hostCheckSettings() throws {
        var configuration = APIConfiguration()
        #expect(configuration.allowedHosts == [])
        configuration.cognito = CognitoSettings(region: "us-east-1", userPoolID: "us-east-1_Abc", clientID: "client", jwksURL: nil)
        #expect(configuration.allowedHosts == nil)
        configuration.extraAllowedHosts = ["api.cruddur.example"]
        #expect(configuration.allowedHosts == ["api.cruddur.example"])
        let parsed = try ServeSettings.fromEnvironment(["ALLOWED_HOSTS": "Api.Cruddur.Example, 192.0.2.7,[2001:db8::1]"])
        #expect(parsed.extraAllowedHosts == ["api.cruddur.example", "192.0.2.7", "[2001:db8::1]"])
        for bad in ["cruddur.example:443", "a,,b", "http://cruddur.example", "bad host"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ServeSettings.fromEnvironment(["ALLOWED_HOSTS": bad]) }
        }
    }

    @Test("a malformed chunk size is a 400, never a 500")
    func malformedChunk() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        try await withTestApp(database: database, framework: .live) { client in
            let port = try #require(client.port)
            for chunks in ["zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcdef\r\n0\r\n\r\n", "-1\r\n\r\n", "ffffffffffffffffff\r\n"] {
                let response = try RawHTTP.exchange(
                    port: port,
                    "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\(chunks)",
                    readTimeout: .seconds(5)
                )
                #expect(RawHTTP.status(response) == 400, "\(chunks.debugDescription): \(response)")
            }
            for head in [
                "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
                "GET /api/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n",
                "NOT HTTP\r\n\r\n",
            ] {
                let response = try RawHTTP.exchange(port: port, head, readTimeout: .seconds(5))
                #expect(RawHTTP.status(response) == 400, "\(head.debugDescription): \(response)")
            }
        }
        #expect(try await activityCount(database) == before)
    }

    @Test("HEAD answers like GET without a body; another method on a known path is 405 with Allow")
    func methods() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            for path in ["/api/activities/home", "/api/health", "/", "/assets/app.js"] {
                let length = try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok)
                    return response.headers[.contentLength]
                }
                try await client.execute(uri: path, method: .head) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.body.readableBytes == 0)
                    #expect(response.headers[.contentLength] == length, "\(path)")
                }
            }
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/api/activities/home", .delete, "GET, HEAD"), ("/api/activities/home", .post, "GET, HEAD"),
                ("/api/activities", .get, "POST"), ("/api/activities", .put, "POST"), ("/api/health", .patch, "GET, HEAD"),
                ("/assets/app.js", .post, "GET, HEAD"),
            ]
            for (path, method, allow) in cases {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                    let json = try response.json() as? [String: String]
                    #expect(json?["error"] == "method_not_allowed")
                }
            }
            for (path, method) in [("/api/nothing", HTTPRequest.Method.get), ("/api/nothing", .delete), ("/assets/missing.js", .get)] {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .notFound, "\(method) \(path)")
                }
            }
        }
    }

    @Test("every response says nosniff, and API responses no-store, errors included")
    func securityHeaders() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let requests: [(String, HTTPRequest.Method, HTTPFields, String?)] = [
                ("/api/activities/home", .get, [:], nil), ("/api/activities/home?limit=0", .get, [:], nil),
                ("/api/health", .get, [:], nil), ("/api/nothing", .get, [:], nil),
                ("/api/activities", .post, [.contentType: "application/json"], #"{"message": ""}"#),
                ("/api/activities", .post, [.contentType: "text/plain"], "x"),
            ]
            for (path, method, headers, body) in requests {
                try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(method) \(path) \(response.status)")
                    #expect(response.headers[.cacheControl] == "no-store", "\(method) \(path) \(response.status)")
                }
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.cacheControl] == "no-cache", "the page's own revalidation policy stays")
            }
        }
    }

    @Test("a request that does not arrive whole within REQUEST_TIMEOUT is cut off with a 408, however steadily it trickles")
    func slowRequests() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let before = try await activityCount(database)
        try await withTestApp(database: database, framework: .live, configure: { $0.requestTimeout = .seconds(1) }) { client in
            let port = try #require(client.port)
            let slowBody = "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n{"
            for (name, start, trickle) in [("slow body", slowBody, "\n"), ("slow head", "GET /api/health HTTP/1.1\r\nHost: localhost\r\n", "X")] {
                let connection = try RawHTTP(port: port, readTimeout: .seconds(5))
                defer { connection.close() }
                let started = ContinuousClock.now
                connection.send(start)
                while ContinuousClock.now - started < .seconds(6), connection.send(trickle) {
                    try await Task.sleep(for: .milliseconds(100))
                }
                let elapsed = ContinuousClock.now - started
                let response = connection.readToClose()
                #expect(elapsed < .seconds(4), "\(name): the connection stayed open for \(elapsed)")
                #expect(RawHTTP.status(response) == 408, "\(name): \(response)")
                #expect(response.contains(#"{"error":"request_timeout""#), "\(name)")
                #expect(
                    response.range(of: #"(?i)\r\nx-request-id: [0-9a-f]{32}\r\n"#, options: .regularExpression) != nil,
                    "\(name): the 408 carries a new request id: \(response)")
            }
            // On a kept-alive connection the clock restarts with each request: a slow one that follows a quick one
            // 0.7 s later gets its own full second, then is cut off.
            let reused = try RawHTTP(port: port, readTimeout: .seconds(5))
            defer { reused.close() }
            reused.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(RawHTTP.status(reused.readResponse()) == 200)
            try await Task.sleep(for: .milliseconds(700))
            let slowStarted = ContinuousClock.now
            reused.send(slowBody)
            while ContinuousClock.now - slowStarted < .seconds(6), reused.send("\n") {
                try await Task.sleep(for: .milliseconds(100))
            }
            let slowElapsed = ContinuousClock.now - slowStarted
            #expect(slowElapsed >= .milliseconds(950) && slowElapsed < .seconds(4), "cut off after \(slowElapsed)")
            #expect(RawHTTP.status(reused.readToClose()) == 408)
            // The clock runs only while a request is arriving: a kept-alive connection may idle between requests.
            let connection = try RawHTTP(port: port, readTimeout: .seconds(5))
            defer { connection.close() }
            for _ in 0..<2 {
                connection.send("GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(RawHTTP.status(connection.readResponse()) == 200)
                try await Task.sleep(for: .milliseconds(1_500))
            }
        }
        #expect(try await activityCount(database) == before)
    }
}

@Suite("API: a database that refuses connections is a 503 within a second")
struct RefusedDatabaseTests {
    @Test("health, the feed and a post answer 503 within 1 s when PostgreSQL refuses, with the default 5 s deadline")
    func refusedIsFast() async throws {
        let refused = ConnectionSettings(
            endpoint: .tcp(host: "127.0.0.1", port: try freePort()), username: "cruddur", password: nil, database: "cruddur",
            sslMode: .disable
        )
        try await withTestApp(database: refused) { client in
            // Once at start (the pool's first attempt), then every later call.
            for round in 0..<3 {
                for (uri, method) in [("/api/health", HTTPRequest.Method.get), ("/api/activities/home", .get), ("/api/activities", .post)] {
                    let start = ContinuousClock.now
                    try await client.execute(
                        uri: uri, method: method, headers: [.contentType: "application/json"],
                        body: method == .post ? ByteBuffer(string: HTTPHardeningTests.post) : nil
                    ) { response in
                        #expect(response.status == .serviceUnavailable, "\(method) \(uri)")
                    }
                    let elapsed = ContinuousClock.now - start
                    #expect(elapsed < .seconds(1), "round \(round): \(method) \(uri) took \(elapsed)")
                }
                try await Task.sleep(for: .milliseconds(700))
            }
        }
    }
}
