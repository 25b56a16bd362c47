import CruddurDomain
import Foundation
import PostgresNIO
import Testing

@testable import CruddurDatabase

/// Runs `body` with a running pool of `size` on `settings`; the pool stops (its connections close) afterwards.
private func withPool<Value: Sendable>(
    _ settings: ConnectionSettings, size: Int = 8, _ body: @escaping @Sendable (DatabasePool) async throws -> Value
) async throws -> Value {
    let pool = try DatabasePool(settings: settings, size: size, deadline: .seconds(30), logger: TestPostgres.logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pool.run() }
        defer { group.cancelAll() }
        return try await body(pool)
    }
}

/// `count` users `writer_0`… with Cognito subs `writer-sub-0`….
private func makeWriters(_ database: ConnectionSettings, count: Int) async throws {
    try await withTestConnection(database) { connection in
        try await connection.query(
            """
            INSERT INTO public.users (display_name, handle, email, cognito_user_id)
            SELECT 'Writer ' || i, 'writer_' || i, 'writer' || i || '@example.com', 'writer-sub-' || i
            FROM generate_series(0, \(count - 1)) i
            """, logger: TestPostgres.logger
        ).collect()
        return
    }
}

private func integer(_ database: ConnectionSettings, _ sql: String) async throws -> Int {
    try await withTestConnection(database) { connection in
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.logger).collect()
        return Int(try rows[0].decode(Int64.self))
    }
}

private func post(_ author: Author, _ message: String) -> NewActivity {
    NewActivity(author: author, message: message, ttl: .oneDay)
}

/// Issue 15: posts without an `Idempotency-Key` that arrive together commit in one statement and transaction
/// (`ActivityRepository.create`, `CommitGroup`, `ActivityStatements.CreateActivities`), with each post's own answer.
@Suite("Grouped posts: many posts, one transaction, every post its own answer", .serialized)
struct GroupedPostsTests {
    @Test("96 posts at once by 48 authors: each gets its own row and answer, in far fewer transactions, one author once per transaction")
    func postsAtOnce() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await makeWriters(database, count: 48)
        let outcomes = try await withPool(database) { pool in
            let repository = ActivityRepository(pool: pool, logger: TestPostgres.logger)
            return try await withThrowingTaskGroup(of: (Int, ActivityCreation).self) { tasks in
                for index in 0..<96 {
                    tasks.addTask {
                        let author: Author = index % 2 == 0 ? .handle("writer_\(index % 48)") : .cognitoSub("writer-sub-\(index % 48)")
                        return (index, try await repository.create(post(author, "post \(index)"), rateLimit: .standard))
                    }
                }
                var outcomes: [Int: ActivityCreation] = [:]
                for try await (index, outcome) in tasks { outcomes[index] = outcome }
                return outcomes
            }
        }
        for index in 0..<96 {
            guard case .created(let created) = outcomes[index] else {
                Issue.record("post \(index): \(String(describing: outcomes[index]))")
                continue
            }
            #expect(created.message == "post \(index)" && created.handle == "writer_\(index % 48)")
        }
        #expect(try await integer(database, "SELECT count(*) FROM activities") == 96)
        #expect(try await integer(database, "SELECT count(DISTINCT uuid) FROM activities") == 96)
        // Each row's message belongs to its author.
        #expect(
            try await integer(
                database,
                """
                SELECT count(*) FROM activities a JOIN users u ON u.uuid = a.user_uuid
                WHERE u.handle <> 'writer_' || (split_part(a.message, ' ', 2)::int % 48)
                """) == 0)
        // now() is the transaction's start: rows that share it were committed together.
        let transactions = try await integer(database, "SELECT count(DISTINCT created_at) FROM activities")
        #expect(transactions < 48, "\(transactions) transactions for 96 posts")
        #expect(
            try await integer(
                database, "SELECT count(*) FROM (SELECT 1 FROM activities GROUP BY created_at, user_uuid HAVING count(*) > 1) twice")
                == 0)
        #expect(try await integer(database, "SELECT sum(posts) FROM post_allowances") == 96)
    }

    @Test("the rate limit counts grouped posts exactly: 8 at once by each of 6 authors against 3 per window make 18 rows")
    func rateLimitExact() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await makeWriters(database, count: 6)
        let limit = try #require(PostRateLimit(posts: 3, windowSeconds: 3_600))
        let outcomes = try await withPool(database) { pool in
            let repository = ActivityRepository(pool: pool, logger: TestPostgres.logger)
            return try await withThrowingTaskGroup(of: ActivityCreation.self) { tasks in
                for index in 0..<48 {
                    tasks.addTask { try await repository.create(post(.handle("writer_\(index % 6)"), "post \(index)"), rateLimit: limit) }
                }
                var outcomes: [ActivityCreation] = []
                for try await outcome in tasks { outcomes.append(outcome) }
                return outcomes
            }
        }
        let created = outcomes.filter { if case .created = $0 { true } else { false } }
        let refused = outcomes.compactMap { if case .rateLimited(let seconds) = $0 { seconds } else { nil } }
        #expect(created.count == 18 && refused.count == 30)
        #expect(refused.allSatisfy { (3_590...3_600).contains($0) }, "\(refused)")
        #expect(try await integer(database, "SELECT count(*) FROM activities") == 18)
        #expect(try await integer(database, "SELECT count(*) FROM post_allowances WHERE posts = 3") == 6)
    }

    @Test("in one group: a post the database refuses fails alone, an unknown author is not found, the others are created")
    func oneBadPost() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await makeWriters(database, count: 4)
        let group: [ActivityRepository.PendingPost] = [
            .init(activity: post(.handle("writer_0"), "fine 0"), rateLimit: .standard),
            .init(activity: post(.cognitoSub("writer-sub-1"), "fine 1"), rateLimit: .standard),
            .init(activity: post(.handle("writer_2"), "a NUL \u{0} PostgreSQL refuses"), rateLimit: .standard),
            .init(activity: post(.handle("nobody"), "no author"), rateLimit: .standard),
            .init(activity: post(.cognitoSub("writer-sub-3"), "fine 3"), rateLimit: .standard),
        ]
        let outcomes = try await withPool(database) { pool in
            await ActivityRepository.insert(group, pool: pool, logger: TestPostgres.logger)
        }
        try #require(outcomes.count == 5)
        for (index, handle) in [(0, "writer_0"), (1, "writer_1"), (4, "writer_3")] {
            guard case .success(.created(let created)) = outcomes[index] else {
                Issue.record("post \(index): \(outcomes[index])")
                continue
            }
            #expect(created.handle == handle && created.message == group[index].activity.message)
        }
        guard case .failure = outcomes[2] else {
            Issue.record("the NUL post: \(outcomes[2])")
            return
        }
        guard case .success(.authorNotFound) = outcomes[3] else {
            Issue.record("the unknown author: \(outcomes[3])")
            return
        }
        #expect(try await integer(database, "SELECT count(*) FROM activities") == 3)
        #expect(try await integer(database, "SELECT count(*) FROM post_allowances") == 3)
    }

    @Test("one user named by handle and by Cognito sub in one group: each post gets its own activity back")
    func oneUserTwoNames() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        try await makeWriters(database, count: 2)
        for rateLimit in [nil, PostRateLimit.standard] {
            let group: [ActivityRepository.PendingPost] = [
                .init(activity: post(.handle("writer_0"), "by handle"), rateLimit: rateLimit),
                .init(activity: post(.cognitoSub("writer-sub-0"), "by sub"), rateLimit: rateLimit),
                .init(activity: post(.handle("writer_1"), "someone else"), rateLimit: rateLimit),
            ]
            let outcomes = try await withPool(database) { pool in
                await ActivityRepository.insert(group, pool: pool, logger: TestPostgres.logger)
            }
            try #require(outcomes.count == 3)
            var uuids: Set<String> = []
            for (index, outcome) in outcomes.enumerated() {
                guard case .success(.created(let created)) = outcome else {
                    Issue.record("rate limit \(String(describing: rateLimit)), post \(index): \(outcome)")
                    continue
                }
                #expect(created.message == group[index].activity.message, "rate limit \(String(describing: rateLimit))")
                uuids.insert(created.uuid)
            }
            #expect(uuids.count == 3)
        }
        #expect(try await integer(database, "SELECT count(*) FROM activities") == 6)
        #expect(try await integer(database, "SELECT count(DISTINCT message) FROM activities") == 3)
    }

    @Test("two servers posting at once for the same six authors, in random orders, never deadlock")
    func noDeadlockAcrossServers() async throws {
        let database = try await TestPostgres.shared.makeDatabase()
        // Among many users, each post's author is an index lookup, in the group's own order (among six, a scan of
        // the table would take them in its order, the same for every group).
        try await makeWriters(database, count: 5_000)
        try await withTestConnection(database) { connection in
            try await connection.query("ANALYZE public.users", logger: TestPostgres.logger).collect()
            return
        }
        let application = "grouped-posts-\(UInt32.random(in: 0...UInt32.max))"
        let settings = database.with(applicationName: application)
        let failures = try await withPool(settings) { first in
            try await withPool(settings) { second in
                let servers = [
                    ActivityRepository(pool: first, logger: TestPostgres.logger), ActivityRepository(pool: second, logger: TestPostgres.logger),
                ]
                return try await withThrowingTaskGroup(of: Int.self) { tasks in
                    for server in servers {
                        for _ in 0..<8 {
                            tasks.addTask {
                                var failures = 0
                                for round in 0..<32 {
                                    // Each group takes its authors' counter rows: in random orders, two groups would
                                    // soon wait for each other.
                                    let author = Int.random(in: 0..<6)
                                    let outcome = try await server.create(post(.handle("writer_\(author)"), "round \(round)"), rateLimit: .standard)
                                    if case .created = outcome {} else { failures += 1 }
                                }
                                return failures
                            }
                        }
                    }
                    return try await tasks.reduce(0, +)
                }
            }
        }
        #expect(failures == 0)
        #expect(try await integer(database, "SELECT count(*) FROM activities") == 512)
        // Backends report their statistics when they end: wait until the pools' connections are gone.
        let end = ContinuousClock.now + .seconds(10)
        while try await integer(database, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(application)'") > 0,
            ContinuousClock.now < end
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await integer(database, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()") == 0)
    }
}
