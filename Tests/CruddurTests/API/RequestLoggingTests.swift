import CruddurDatabase
import CruddurLogging
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import CruddurAPI

/// Keeps every log event, for checking what a request's lines carry.
private struct CapturingLogHandler: LogHandler {
    let events: NIOLockedValueBox<[(message: String, metadata: Logger.Metadata)]>
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        events.withLockedValue { $0.append(("\(event.message)", merged)) }
    }
}

/// A generated request id: 32 lowercase hexadecimal digits.
private func isGeneratedID(_ id: String?) -> Bool {
    guard let id else { return false }
    return id.utf8.count == 32
        && id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
}

@Suite("Request ids, the access log and JSON logs", .serialized)
struct RequestLoggingTests {
    @Test("X-Request-Id: a well-formed one is kept, anything else replaced; every answer carries it, errors included")
    func requestIDs() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database) { client in
            let kept = "Root-1-67a.b_c-" + String(repeating: "x", count: 113)
            #expect(kept.utf8.count == 128)
            try await client.execute(uri: "/api/activities/home", method: .get, headers: [.xRequestID: kept]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.xRequestID] == kept)
            }
            for bad in ["has space", "semi;colon", "equals=sign", String(repeating: "y", count: 129), "ünïcode", ""] {
                try await client.execute(uri: "/api/activities/home", method: .get, headers: [.xRequestID: bad]) { response in
                    let id = try #require(response.headers[.xRequestID])
                    #expect(isGeneratedID(id), "\(bad) → \(id)")
                }
            }
            var twice = HTTPFields()
            twice.append(HTTPField(name: .xRequestID, value: "one"))
            twice.append(HTTPField(name: .xRequestID, value: "two"))
            try await client.execute(uri: "/api/health", method: .get, headers: twice) { response in
                #expect(isGeneratedID(response.headers[.xRequestID]))
            }
            var ids: Set<String> = []
            let answers: [(String, HTTPRequest.Method, HTTPFields, String?, HTTPResponse.Status)] = [
                ("/nowhere", .get, [:], nil, .notFound),
                ("/api/health", .delete, [:], nil, .methodNotAllowed),
                ("/api/activities", .post, [.contentType: "text/plain"], "x", .unsupportedMediaType),
                ("/api/activities", .post, [.contentType: "application/json"], "{", .badRequest),
                (
                    "/api/activities", .post, [.contentType: "application/json"], #"{"user_handle":"nobody","message":"m","ttl":"1-day"}"#,
                    .unprocessableContent
                ),
                ("/api/activities/home?limit=0", .get, [:], nil, .badRequest),
                ("/", .get, [:], nil, .ok),
            ]
            for (uri, method, headers, body, status) in answers {
                try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.status == status, "\(method) \(uri)")
                    let id = try #require(response.headers[.xRequestID], "\(method) \(uri)")
                    #expect(isGeneratedID(id))
                    ids.insert(id)
                }
            }
            #expect(ids.count == answers.count, "a new id per request")
        }
    }

    @Test("every log line a request writes carries its request_id")
    func logLinesCarryTheID() async throws {
        let events = NIOLockedValueBox<[(message: String, metadata: Logger.Metadata)]>([])
        let logger = Logger(label: "capture") { _ in CapturingLogHandler(events: events) }
        // A database that refuses connections: the health check logs a warning through the request's logger.
        let unreachable = ConnectionSettings(endpoint: .tcp(host: "127.0.0.1", port: 9), username: "nobody", password: nil, database: "none")
        let app = try buildApplication(configuration: APIConfiguration(host: "127.0.0.1", port: 0), database: unreachable, logger: logger)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/health", method: .get, headers: [.xRequestID: "health-check-7"]) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.xRequestID] == "health-check-7")
            }
        }
        let lines = events.withLockedValue { $0 }.filter { $0.message == "Health check failed" }
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.metadata[LogLine.requestIDKey] == "health-check-7", "\(line.metadata)")
        }
    }

    @Test("the access log is bounded: a full buffer drops lines, counts them and says so")
    func accessLogBounded() throws {
        let written = NIOLockedValueBox("")
        let log = AccessLog(format: .json, capacity: 10) { text in written.withLockedValue { $0 += text } }
        for index in 0..<25 {
            log.record(
                AccessLog.Entry(
                    timestamp: LogLine.now(), requestID: "r\(index)", method: "GET", route: "/api/health", status: 200,
                    durationMicroseconds: 42, bytes: 31
                ))
        }
        log.flush()
        let lines = written.withLockedValue { $0 }.split(separator: "\n").map(String.init)
        #expect(lines.count == 11)
        #expect(log.droppedCount == 15)
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.first?["request_id"] as? String == "r0")
        #expect((objects.first?["metadata"] as? [String: Any])?["duration_us"] as? Int == 42)
        #expect(objects.last?["level"] as? String == "warning")
        #expect((objects.last?["metadata"] as? [String: Any])?["dropped"] as? Int == 15)
    }

    @Test("cruddur serve with LOG_FORMAT=json: every line is a JSON object; one access line per request, with no secrets")
    func jsonLogsAndAccessLog() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let local = try await LocalServer.start(database: database, environment: ["LOG_FORMAT": "json", "LOG_LEVEL": "info"])
        let server = local.process
        let base = local.base
        let cursor = "1764547200000000_2d0e3f0a-5b6c-4d7e-8f90-a1b2c3d4e5f6"
        _ = try await HTTP.request("GET", base + "/api/activities/home?limit=2&cursor=\(cursor)", headers: [("X-Request-Id", "feed-1")])
        let posted = try await HTTP.request(
            "POST", base + "/api/activities", body: #"{"user_handle":"bayko","message":"secret-body-text","ttl":"1-day"}"#,
            headers: [("X-Request-Id", "post-1"), ("Idempotency-Key", "secret-idempotency-key"), ("Authorization", "Bearer secret-token")]
        )
        #expect(posted.status == 200)
        _ = try await HTTP.request("GET", base + "/assets/nothing.js", headers: [("X-Request-Id", "asset-1")])
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(20)) == 0)

        let lines = server.output.split(separator: "\n").map(String.init)
        var access: [String: [String: Any]] = [:]
        for line in lines {
            let object = try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            #expect(object["timestamp"] is String && object["level"] is String && object["message"] is String && object["logger"] is String)
            if object["logger"] as? String == "cruddur.access", let id = object["request_id"] as? String {
                access[id] = object["metadata"] as? [String: Any]
            }
        }
        #expect(access["feed-1"]?["route"] as? String == "/api/activities/home")
        #expect(access["feed-1"]?["status"] as? Int == 200)
        #expect(access["post-1"]?["method"] as? String == "POST")
        #expect(access["post-1"]?["status"] as? Int == 200)
        #expect((access["post-1"]?["bytes"] as? Int ?? 0) > 0)
        #expect(access["post-1"]?["duration_us"] is Int)
        #expect(access["asset-1"]?["route"] as? String == "/assets/{name}")
        #expect(access["asset-1"]?["status"] as? Int == 404)
        for secret in ["secret-body-text", "secret-idempotency-key", "secret-token", cursor] {
            #expect(!server.output.contains(secret), "\(secret) reached the log")
        }
    }

    @Test("ACCESS_LOG=off writes no access line")
    func accessLogOff() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        let local = try await LocalServer.start(database: database, environment: ["ACCESS_LOG": "off", "LOG_LEVEL": "info"])
        let server = local.process
        _ = try await HTTP.request("GET", local.base + "/api/activities/home")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(20)) == 0)
        #expect(server.output.contains("Cruddur is serving"))
        #expect(!server.output.contains("cruddur.access"), "\(server.output)")
    }
}
