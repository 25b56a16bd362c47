import CruddurDatabase
import Foundation
import PostgresNIO
import Testing

/// Runs `body` with a running pool on `settings`; the pool stops afterwards.
private func withPool<Value: Sendable>(
    _ settings: ConnectionSettings, size: Int, deadline: Duration = .seconds(5),
    _ body: @escaping @Sendable (DatabasePool) async throws -> Value
) async throws -> Value {
    let pool = try DatabasePool(settings: settings, size: size, deadline: deadline, logger: TestPostgres.logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pool.run() }
        defer { group.cancelAll() }
        return try await body(pool)
    }
}

private func selectOne(_ pool: DatabasePool, deadline: Duration? = nil) async throws -> Int32 {
    try await pool.withConnection(operation: "test query", deadline: deadline) { connection in
        let rows = try await connection.query("SELECT 1::int4", logger: TestPostgres.logger).collect()
        return try rows[0].decode(Int32.self)
    }
}

/// Waits until `condition` holds, up to `timeout`.
private func eventually(_ timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

@Suite("DatabasePool: connection failures under load, deadlines, fail-fast while the server is down")
struct DatabasePoolTests {
    /// The crash of issue 12 came from connections dying while requests waited for one (PostgresNIO 1.33's
    /// fixed-size pool asserted `minimum <= active`). Here 32 callers keep 4 connections busy while another session
    /// terminates the pool's backends again and again: every call must answer (a result or a `DatabaseError`),
    /// nothing may hang, and the pool must be whole again afterwards.
    @Test("backends terminated while 32 calls wait: every call answers, the pool refills")
    func terminatedUnderLoad() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let application = "pool-test-\(UInt32.random(in: 0...UInt32.max))"
        let settings = database.with(applicationName: application)
        let size = 4
        try await withPool(settings, size: size, deadline: .seconds(10)) { (pool: DatabasePool) async throws in
            #expect(try await selectOne(pool) == 1)
            let outcomes = try await withThrowingTaskGroup(of: (ok: Int, failed: Int, slowest: Duration).self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        var counts = (ok: 0, failed: 0, slowest: Duration.zero)
                        for _ in 0..<40 {
                            let called = ContinuousClock.now
                            do {
                                try await pool.withConnection(operation: "test query") { connection in
                                    _ = try await connection.query("SELECT pg_sleep(0.005)", logger: TestPostgres.logger).collect()
                                }
                                counts.ok += 1
                            } catch is DatabaseError {
                                counts.failed += 1
                            }
                            counts.slowest = max(counts.slowest, .now - called)
                        }
                        return counts
                    }
                }
                group.addTask {
                    var terminated = 0
                    for _ in 0..<15 {
                        terminated += try await withTestConnection(database) { connection in
                            let rows = try await connection.query(
                                "SELECT count(pg_terminate_backend(pid))::int4 FROM pg_stat_activity WHERE application_name = \(application)",
                                logger: TestPostgres.logger
                            ).collect()
                            return Int(try rows[0].decode(Int32.self))
                        }
                        try await Task.sleep(for: .milliseconds(40))
                    }
                    return (ok: 0, failed: -terminated, slowest: .zero)
                }
                var total = (ok: 0, failed: 0, terminated: 0, slowest: Duration.zero)
                for try await counts in group {
                    if counts.failed < 0 {
                        total.terminated = -counts.failed
                    } else {
                        total.ok += counts.ok
                        total.failed += counts.failed
                        total.slowest = max(total.slowest, counts.slowest)
                    }
                }
                return total
            }
            #expect(outcomes.ok + outcomes.failed == 32 * 40)
            #expect(outcomes.terminated > 0, "no backend was terminated: the test proved nothing")
            #expect(outcomes.ok > 0)
            // Nothing hangs: each call ends within the pool's 10 s deadline (waiting and running together), with room for
            // a loaded machine; the run's total time depends on the machine's load, so it is not the measure.
            #expect(outcomes.slowest < .seconds(15), "the slowest call took \(outcomes.slowest)")
            #expect(await eventually(.seconds(5)) { pool.statistics.open == size && pool.statistics.waiting == 0 }, "\(pool.statistics)")
            #expect(try await selectOne(pool) == 1)
        }
    }

    /// The first call waits for the pool's first attempt to connect (a refused connect takes microseconds, but this
    /// machine may be busy); once an attempt has failed and no connection is open, calls fail without any I/O.
    @Test("nothing listens: calls fail at once with a clear reason, not at the deadline")
    func failFastWhenRefused() async throws {
        let port = try freePort()
        let settings = ConnectionSettings(
            endpoint: .tcp(host: "127.0.0.1", port: port), username: "nobody", password: nil, database: "none", sslMode: .disable)
        try await withPool(settings, size: 4, deadline: .seconds(20)) { (pool: DatabasePool) async throws in
            for attempt in 0..<5 {
                let started = ContinuousClock.now
                do {
                    _ = try await selectOne(pool)
                    Issue.record("a query succeeded with no server")
                } catch let error as DatabaseError {
                    #expect(error.isUnavailable)
                    #expect("\(error)".contains("cannot connect"), "\(error)")
                }
                #expect(ContinuousClock.now - started < (attempt == 0 ? .seconds(5) : .seconds(1)))
            }
            #expect(pool.statistics.waiting == 0)
        }
    }

    @Test("a call past its deadline gives up in time, its connection is replaced, the next call succeeds")
    func deadlineClosesStuckConnection() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withPool(database, size: 1, deadline: .milliseconds(400)) { (pool: DatabasePool) async throws in
            let started = ContinuousClock.now
            await #expect(throws: DatabaseError.self) {
                try await pool.withConnection(operation: "sleeping") { connection in
                    _ = try await connection.query("SELECT pg_sleep(30)", logger: TestPostgres.logger).collect()
                }
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            // The only connection was busy with the stuck query (PostgreSQL sleeps 30 s): it must have been closed and
            // replaced, or this call would wait for it. A generous deadline: the machine may be busy reconnecting.
            #expect(try await selectOne(pool, deadline: .seconds(20)) == 1)
            #expect(ContinuousClock.now - started < .seconds(25))
        }
    }

    @Test("callers that give up leave no waiter behind; the rest are served in order")
    func abandonedWaiters() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await withPool(database, size: 1, deadline: .seconds(5)) { (pool: DatabasePool) async throws in
            // The impatient callers start only once the holder has the connection: on a loaded machine opening it
            // can take longer than any fixed pause, and a holder still waiting would count as a waiter.
            // It keeps the connection until they have all given up.
            let (holding, holdingStarted) = AsyncStream<Void>.makeStream()
            let (released, release) = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await pool.withConnection(operation: "holding") { connection in
                    holdingStarted.yield()
                    for await _ in released { break }
                    _ = try await connection.query("SELECT 1", logger: TestPostgres.logger).collect()
                }
            }
            for await _ in holding { break }
            let impatient = (0..<10).map { _ in
                Task {
                    try await pool.withConnection(operation: "impatient", deadline: .milliseconds(200)) { _ in }
                }
            }
            for task in impatient {
                await #expect(throws: DatabaseError.self) { try await task.value }
            }
            #expect(pool.statistics.waiting == 0)
            release.yield()
            try await holder.value
            #expect(try await selectOne(pool) == 1)
            #expect(pool.statistics.idle == 1)
        }
    }

    @Test("a stopped pool refuses calls with a clear error")
    func closedPool() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        let pool = try DatabasePool(settings: database, size: 2, logger: TestPostgres.logger)
        let running = Task { try await pool.run() }
        #expect(try await selectOne(pool) == 1)
        running.cancel()
        try await running.value
        do {
            _ = try await selectOne(pool)
            Issue.record("a closed pool answered")
        } catch let error as DatabaseError {
            #expect("\(error)".contains("closed"), "\(error)")
        }
    }
}
