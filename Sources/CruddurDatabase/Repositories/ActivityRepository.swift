import CruddurDomain
import Logging
import PostgresNIO

/// Reads and writes activities. Every call has a deadline, so an unreachable database is an error in time.
public struct ActivityRepository: Sendable {
    let pool: DatabasePool
    /// The read replica's routing, when there is one: feed reads go through it, writes tell it.
    let reads: ReplicaReads?
    let logger: Logger

    public init(pool: DatabasePool, reads: ReplicaReads? = nil, logger: Logger) {
        self.pool = pool
        self.reads = reads
        self.logger = logger
    }

    /// One page of the home feed, newest first, live activities only (from the read replica when it may serve it).
    public func homeFeed(_ request: FeedRequest) async throws -> [FeedActivity] {
        let statement = request.cursor == nil ? ActivityStatements.HomeFeedFirstPage.name : ActivityStatements.HomeFeedAfterCursor.name
        let body = homeFeedQuery(request)
        guard let reads else { return try await pool.withConnection(operation: "reading the home feed", statement: statement, body) }
        return try await reads.read(operation: "reading the home feed", statement: statement, body)
    }

    private func homeFeedQuery(_ request: FeedRequest) -> @Sendable (PostgresConnection) async throws -> [FeedActivity] {
        { [logger] connection in
            var page: [FeedActivity] = []
            page.reserveCapacity(request.limit)
            if let cursor = request.cursor {
                let statement = ActivityStatements.HomeFeedAfterCursor(
                    createdAt: cursor.createdAt.iso8601, uuid: cursor.uuid, limit: Int64(request.limit)
                )
                for try await activity in try await connection.execute(statement, logger: logger) {
                    page.append(activity)
                }
            } else {
                let statement = ActivityStatements.HomeFeedFirstPage(limit: Int64(request.limit))
                for try await activity in try await connection.execute(statement, logger: logger) {
                    page.append(activity)
                }
            }
            return page
        }
    }

    /// Creates an activity, at most once per author and `idempotencyKey` within 24 hours when a key is given, and
    /// at most `rateLimit.posts` per author and window (nil: no limit).
    ///
    /// A retry that arrives while the first request with its key is still in flight waits for it (on the key's
    /// unique index) and then gets its result: there is never a second row. Returns only after the commit.
    public func create(_ activity: NewActivity, idempotencyKey key: String? = nil, rateLimit: PostRateLimit?) async throws -> ActivityCreation {
        let creation = try await insert(activity, idempotencyKey: key, rateLimit: rateLimit)
        if case .created = creation { reads?.noteWrite() }
        return creation
    }

    private func insert(_ activity: NewActivity, idempotencyKey key: String?, rateLimit: PostRateLimit?) async throws -> ActivityCreation {
        try await pool.withCommittedWrite(operation: "creating an activity", statement: ActivityStatements.CreateActivity.name) {
            [logger] connection in
            for attempt in 0..<2 {
                for try await outcome in try await connection.execute(
                    ActivityStatements.CreateActivity(activity: activity, idempotencyKey: key, rateLimit: rateLimit), logger: logger
                ) {
                    switch outcome {
                    case .created(let created): return .created(created)
                    case .rateLimited(let seconds): return .rateLimited(retryAfterSeconds: Int(seconds))
                    }
                }
                guard let key else { return .authorNotFound }
                var recorded: IdempotencyStatements.Recorded.Row?
                for try await row in try await connection.execute(IdempotencyStatements.Recorded(author: activity.author, key: key), logger: logger) {
                    recorded = row
                }
                guard let recorded else { return .authorNotFound }
                if recorded.isStale && attempt == 0 {
                    for try await _ in try await connection.execute(
                        IdempotencyStatements.ForgetStale(author: activity.author, key: key), logger: logger)
                    {}
                    continue
                }
                guard recorded.message == activity.message, recorded.ttlSeconds == Int64(activity.ttl.seconds) else { return .keyReused }
                return .replayed(recorded.activity)
            }
            return .keyReused
        }
    }

    /// The cursor after the first `offset` live activities, newest first (nil when there are fewer): an `OFFSET`
    /// scan, for tools (`cruddur db feed-cursor`), never for requests.
    public static func cursor(after offset: Int, on connection: PostgresConnection, logger: Logger) async throws -> FeedCursor? {
        for try await (micros, uuid) in try await connection.query(ActivityStatements.feedPosition(offset: offset - 1), logger: logger)
            .decode((Int64, String).self)
        {
            return FeedCursor(createdAt: Timestamp(microsecondsSinceEpoch: micros), uuid: uuid)
        }
        return nil
    }

    /// Deletes up to `batchSize` expired activities; returns how many went.
    public func purgeExpired(batchSize: Int) async throws -> Int {
        try await pool.withConnection(operation: "purging expired activities", statement: ActivityStatements.PurgeExpired.name) {
            [logger] connection in
            var deleted = 0
            for try await count in try await connection.execute(ActivityStatements.PurgeExpired(limit: Int64(batchSize)), logger: logger) {
                deleted = Int(count)
            }
            return deleted
        }
    }
}

/// What became of a post.
public enum ActivityCreation: Sendable, Equatable {
    /// The activity was created.
    case created(CreatedActivity)
    /// A retry with the same `Idempotency-Key` and body: the first request's activity, nothing written.
    case replayed(CreatedActivity)
    /// The author used this key for a different message or TTL within 24 hours; nothing written.
    case keyReused
    /// No such author; nothing written.
    case authorNotFound
    /// The author has used up the posting rate limit's window; nothing written.
    case rateLimited(retryAfterSeconds: Int)
}
