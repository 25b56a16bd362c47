import CruddurDatabase
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import PostgresNIO
import Testing

@testable import CruddurAPI

/// What the reads of one test did: how many started, how many ran at once, and who ran each.
private final class ReadLog: Sendable {
    private struct State {
        var started = 0
        var running = 0
        var mostRunning = 0
        var readers: [Int] = []
    }

    private let state = NIOLockedValueBox(State())

    var started: Int { state.withLockedValue { $0.started } }
    var mostRunning: Int { state.withLockedValue { $0.mostRunning } }
    var readers: [Int] { state.withLockedValue { $0.readers } }

    /// A read by `reader` that takes `duration`: its number, counted from 1.
    func read(by reader: Int, taking duration: Duration) async throws -> Int {
        let number = state.withLockedValue { state in
            state.started += 1
            state.running += 1
            state.mostRunning = max(state.mostRunning, state.running)
            state.readers.append(reader)
            return state.started
        }
        defer { state.withLockedValue { $0.running -= 1 } }
        try await Task.sleep(for: duration)
        return number
    }
}

private struct ReadFailed: Error {}

@Suite("Identical reads share a query, and nobody is answered from one that started before they arrived")
struct ReadCoalescingTests {
    @Test("every answer comes from a read that started after the request arrived; one read per key at a time")
    func answersAreNeverOlderThanArrival() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let log = ReadLog()
        let requests = 400
        try await withThrowingTaskGroup(of: (arrivedAfter: Int, answer: Int).self) { group in
            for index in 0..<requests {
                group.addTask {
                    try await Task.sleep(for: .microseconds(index * 50))
                    let arrivedAfter = log.started
                    let answer = try await coalescer.value(for: "page") { try await log.read(by: index, taking: .milliseconds(2)) }
                    return (arrivedAfter, answer)
                }
            }
            for try await (arrivedAfter, answer) in group {
                #expect(answer > arrivedAfter, "answered by read \(answer), which had started when the request arrived")
            }
        }
        #expect(log.mostRunning == 1)
        #expect(log.started < requests / 2, "\(log.started) reads for \(requests) requests")
    }

    @Test("different keys are read at the same time")
    func keysDoNotWaitForEachOther() async throws {
        let coalescer = ReadCoalescer<Int, Int>()
        let log = ReadLog()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for key in 0..<8 {
                group.addTask { try await coalescer.value(for: key) { try await log.read(by: key, taking: .seconds(1)) } }
            }
            try await group.waitForAll()
        }
        #expect(log.started == 8)
        // All eight ran at once: none waited for another key's read.
        #expect(log.mostRunning == 8)
    }

    @Test("a failed read fails the requests it answers, and the next request reads again")
    func errorsReachTheirWaitersOnly() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let failing = Task {
            try await coalescer.value(for: "page") {
                try await Task.sleep(for: .milliseconds(200))
                throw ReadFailed()
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        // These arrive while the failing read runs, so they wait for the next read, which succeeds.
        async let second = coalescer.value(for: "page") { 2 }
        async let third = coalescer.value(for: "page") { 3 }
        await #expect(throws: ReadFailed.self) { try await failing.value }
        let answers = try await [second, third]
        #expect(answers[0] == answers[1])
        #expect(try await coalescer.value(for: "page") { 4 } == 4)
    }

    @Test("a failed read is the error of every request it answers, not only of the one that ran it")
    func failureReachesTheWholeBatch() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let log = ReadLog()
        /// Read 2 fails; the others succeed.
        @Sendable func attempt(_ reader: Int) async throws -> Int {
            try await coalescer.value(for: "page") {
                let number = try await log.read(by: reader, taking: .milliseconds(200))
                if number == 2 { throw ReadFailed() }
                return number
            }
        }
        let first = Task { try await attempt(0) }
        try await Task.sleep(for: .milliseconds(50))
        // Both arrive while read 1 runs, so read 2 (run by one of them) answers both.
        let second = Task { try await attempt(1) }
        let third = Task { try await attempt(2) }
        #expect(try await first.value == 1)
        await #expect(throws: ReadFailed.self) { try await second.value }
        await #expect(throws: ReadFailed.self) { try await third.value }
        #expect(log.started == 2)
    }

    @Test("through the API: requests for one page while its query is held up make one query wait, not one per request")
    func oneQueryPerPageThroughTheAPI() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, framework: .live) { client in
            // Separate connections (AsyncHTTPClient's pool), so that the requests are in flight at once.
            let url = "http://127.0.0.1:\(try #require(client.port))/api/activities/home?limit=5"
            let expected = try await HTTP.request("GET", url).body
            try await withTestConnection(database) { locker in
                // The feed query waits for this lock, so every request below arrives while the first one's query runs.
                _ = try await locker.query("BEGIN", logger: TestPostgres.logger).collect()
                _ = try await locker.query("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE", logger: TestPostgres.logger).collect()
                let requests = Task {
                    try await withThrowingTaskGroup(of: HTTP.Reply.self) { group in
                        for _ in 0..<24 {
                            // The lock is held for up to 5.5 s below, and the whole suite may be loading the machine:
                            // the point here is how many queries wait, not how fast they are answered.
                            group.addTask { try await HTTP.request("GET", url, timeout: .seconds(40)) }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                }
                var waiting = 0
                let deadline = ContinuousClock.now + .seconds(5)
                while waiting == 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                    waiting = try await Self.queriesWaitingForALock(locker)
                }
                // Time for the other requests to arrive (and, without sharing, for the pool's other connections to queue).
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await Self.queriesWaitingForALock(locker) == 1)
                _ = try await locker.query("COMMIT", logger: TestPostgres.logger).collect()
                let answers = try await requests.value
                #expect(answers.count == 24)
                #expect(answers.allSatisfy { $0.status == 200 && $0.body == expected })
            }
        }
    }

    /// Whether `condition` comes to hold within `limit`, looked at every 2 ms.
    private static func eventually(within limit: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// Sessions of this database waiting for a lock.
    private static func queriesWaitingForALock(_ connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            logger: TestPostgres.logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    @Test("a leader whose request is cancelled hands the read to the next request of its batch")
    func cancelledLeaderHandsOver() async throws {
        let coalescer = ReadCoalescer<String, Int>()
        let log = ReadLog()
        let tasks = NIOLockedValueBox([Int: Task<Int, any Error>]())
        func start(_ reader: Int) {
            let task = Task { try await coalescer.value(for: "page") { try await log.read(by: reader, taking: .milliseconds(400)) } }
            tasks.withLockedValue { $0[reader] = task }
        }
        start(0)
        // Waits for what a loaded machine may run late, instead of sleeping a fixed time.
        try #require(try await Self.eventually { log.started == 1 })
        for reader in 1...3 { start(reader) }
        // Read 1 (reader 0) takes 400 ms; one of readers 1–3 then runs read 2 for the other two.
        try #require(try await Self.eventually { log.started == 2 })
        let secondReader = try #require(log.readers.last)
        let cancelled = try #require(tasks.withLockedValue { $0[secondReader] })
        cancelled.cancel()
        #expect(try await tasks.withLockedValue { $0[0] }!.value == 1)
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        for reader in 1...3 where reader != secondReader {
            #expect(try await tasks.withLockedValue { $0[reader] }!.value == 3, "reader \(reader)")
        }
        #expect(log.started == 3)
        #expect(log.mostRunning == 1)
    }

    @Test("through the API: under identical concurrent reads, each post is on every read that starts after its answer")
    func postsVisibleUnderConcurrentReads() async throws {
        let database = try await TestPostgres.shared.makeDatabase(seeded: true)
        try await withTestApp(database: database, framework: .live) { client in
            let stop = NIOLockedValueBox(false)
            try await withThrowingTaskGroup(of: Int.self) { readers in
                // Four paced readers: enough to overlap identical reads, light enough beside the rest of the suite.
                for _ in 0..<4 {
                    readers.addTask {
                        var reads = 0
                        while !stop.withLockedValue({ $0 }) {
                            try await client.execute(uri: "/api/activities/home?limit=5", method: .get) { response in
                                #expect(response.status == .ok)
                            }
                            reads += 1
                            try await Task.sleep(for: .milliseconds(2))
                        }
                        return reads
                    }
                }
                for index in 0..<20 {
                    let message = "coalesced \(index)"
                    try await client.execute(
                        uri: "/api/activities", method: .post, headers: [.contentType: "application/json"],
                        body: jsonBody(["user_handle": "bayko", "message": message, "ttl": "1-day"])
                    ) { response in
                        #expect(response.status == .ok)
                    }
                    let first = try await client.execute(uri: "/api/activities/home?limit=5", method: .get) { response in
                        (try response.json() as? [[String: Any]])?.first?["message"] as? String
                    }
                    #expect(first == message)
                }
                stop.withLockedValue { $0 = true }
                var reads = 0
                for try await count in readers { reads += count }
                #expect(reads > 20)
            }
        }
    }
}
