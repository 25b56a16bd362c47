import AsyncHTTPClient
import CruddurDatabase
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// The feed cache's promise across servers, on the release build: a post made through server A is on every first
/// page that server B serves to a request arriving `FEED_CACHE_MAX_AGE_MS` after A answered it, while readers keep B's
/// cache hot and eight writers post at once.
@Suite("Feed staleness across two servers under write load (release build)", .serialized)
struct FeedStalenessTests {
    static let maxAgeMilliseconds = 250
    static let maxAge = Duration.milliseconds(maxAgeMilliseconds)
    static let writers = 8
    static let postsPerWriter = 125

    static func startServer(_ executable: String, database: ConnectionSettings) async throws -> (ChildProcess, String) {
        let server = try await LocalServer.start(
            database: database, executable: executable,
            environment: [
                "LOG_LEVEL": "warning", "ACCESS_LOG": "off", "FEED_CACHE": "on", "FEED_CACHE_MAX_AGE_MS": "\(maxAgeMilliseconds)",
                "POST_RATE_LIMIT": "off",
            ])
        return (server.process, server.base)
    }

    @Test("1,000 posts through A: each is on B's first page FEED_CACHE_MAX_AGE_MS after A answered, every time")
    func postsReachTheOtherServerWithinMaxAge() async throws {
        let executable = try releaseCruddurExecutable()
        // The test is about what the cache shows, not durability: without a flush per commit its 1,000 posts do not
        // starve the commit-bound suites that share the test cluster (the machine's fsync is slow).
        let database = try await TestPostgres.shared.makeDatabase(seeded: true, flushedCommits: false)
        let (serverA, a) = try await Self.startServer(executable, database: database)
        defer { serverA.signal(SIGTERM) }
        let (serverB, b) = try await Self.startServer(executable, database: database)
        defer { serverB.signal(SIGTERM) }

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        // Below the server's idle timeout (15 s): the client closes a kept-alive connection it no longer uses before the
        // server does, so no request races the server's close (`remoteConnectionClosed` on a loaded machine).
        configuration.connectionPool.idleTimeout = .seconds(5)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(15))
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)

        @Sendable func get(_ url: String) async throws -> (status: UInt, body: String) {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(15))
            return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }

        // Readers keep B's cached first page hot for the whole run.
        let done = NIOLockedValueBox(false)
        let readers = (0..<2).map { _ in
            Task { () -> Int in
                var reads = 0
                while !done.withLockedValue({ $0 }) {
                    if (try? await get(b + "/api/activities/home?limit=40"))?.status == 200 { reads += 1 }
                    try? await Task.sleep(for: .milliseconds(10))
                }
                return reads
            }
        }
        let writers = (0..<Self.writers).map { writer in
            Task { () -> [String] in
                var missing: [String] = []
                for index in 0..<Self.postsPerWriter {
                    let message = "staleness \(writer)-\(index)"
                    var request = HTTPClientRequest(url: a + "/api/activities")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: #"{"user_handle":"bayko","message":"\#(message)","ttl":"1-day"}"#))
                    let response = try await client.execute(request, timeout: .seconds(15))
                    _ = try await response.body.collect(upTo: 1 << 16)
                    guard response.status == .ok else {
                        missing.append("\(message): POST answered \(response.status.code)")
                        continue
                    }
                    try await Task.sleep(until: ContinuousClock.now + Self.maxAge)
                    let page = try await get(b + "/api/activities/home?limit=40")
                    if page.status != 200 || !page.body.contains("\"\(message)\"") {
                        missing.append("\(message): not on B's first page \(Self.maxAge) after A answered")
                    }
                }
                return missing
            }
        }
        var missing: [String] = []
        for writer in writers { missing += try await writer.value }
        done.withLockedValue { $0 = true }
        var reads = 0
        for reader in readers { reads += await reader.value }
        try? await client.shutdown()

        let late = missing.count
        let examples = missing.prefix(5).joined(separator: "; ")
        #expect(late == 0, "\(late) of \(Self.writers * Self.postsPerWriter) posts were late, e.g. \(examples)")
        #expect(reads > Self.writers * Self.postsPerWriter, "the readers kept B's cache in use (\(reads) reads)")
        let posted = try await withTestConnection(database) { connection in
            let rows = try await connection.query(
                "SELECT count(*)::int8 FROM public.activities WHERE message LIKE 'staleness %'", logger: TestPostgres.logger
            ).collect()
            return try rows[0].decode(Int64.self)
        }
        #expect(posted == Int64(Self.writers * Self.postsPerWriter))
    }
}
