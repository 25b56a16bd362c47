import CruddurDomain
import Logging
import PostgresNIO
import Tracing

/// Reads and writes activities. Every call has a deadline, so an unreachable database is an error in time.
public struct ActivityRepository: Sendable {
    let pool: DatabasePool
    /// The read replica's routing, when there is one: feed reads go through it, writes tell it.
    let reads: ReplicaReads?
    let logger: Logger
    /// Posts without an `Idempotency-Key` that arrive together, committed in one transaction.
    private let posts: CommitGroup<PendingPost, String, ActivityCreation>

    /// The most posts one transaction takes.
    public static let largestPostGroup = 32
    /// How long a group of posts runs before the next may start beside it instead of after it (``CommitGroup``),
    /// and how many may run at once that way.
    public static let postGroupStall: Duration = .milliseconds(20)
    public static let concurrentPostGroups = 4

    public init(pool: DatabasePool, reads: ReplicaReads? = nil, logger: Logger) {
        self.pool = pool
        self.reads = reads
        self.logger = logger
        posts = CommitGroup(
            maximumRunning: Self.concurrentPostGroups, maximumSize: Self.largestPostGroup, stallAfter: Self.postGroupStall,
            key: \.activity.author.key
        ) { [pool, logger] group in
            await Self.insert(group, pool: pool, logger: logger)
        }
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
    ///
    /// Posts without a key that arrive while others commit are committed together: one statement and one
    /// transaction for a group by different authors (``CommitGroup``, ``ActivityStatements/CreateActivities``), with
    /// the same rules per post as alone; a post alone (no load) is not delayed.
    public func create(_ activity: NewActivity, idempotencyKey key: String? = nil, rateLimit: PostRateLimit?) async throws -> ActivityCreation {
        let creation =
            if let key {
                try await Self.insert(activity, idempotencyKey: key, rateLimit: rateLimit, pool: pool, logger: logger)
            } else {
                try await posts.submit(PendingPost(activity: activity, rateLimit: rateLimit, context: ServiceContext.current))
            }
        if case .created = creation { reads?.noteWrite() }
        return creation
    }

    /// A post without an `Idempotency-Key`, waiting for its group's transaction.
    struct PendingPost: Sendable {
        let activity: NewActivity
        let rateLimit: PostRateLimit?
        /// The request's context (its trace), for the post's own call when it is tried alone.
        var context: ServiceContext? = nil
    }

    /// How many posts of a failed group are tried alone at once (the rest wait): a group of 32 must not ask the pool
    /// for 32 connections at once.
    static let concurrentRetries = 4

    /// Commits `group` (posts by different authors) in one statement and transaction. When the statement fails,
    /// the transaction rolls back and each post is tried again alone, so one bad post costs the others nothing; when
    /// the commit itself fails, its outcome is unknown and every post of the group gets the error.
    static func insert(_ group: [PendingPost], pool: DatabasePool, logger: Logger) async -> [Result<ActivityCreation, any Error>] {
        if group.count == 1 { return [await alone(group[0], pool: pool, logger: logger)] }
        let rateLimit = group[0].rateLimit
        if group.allSatisfy({ $0.rateLimit == rateLimit }) {
            let statement = ActivityStatements.CreateActivities(activities: group.map(\.activity), rateLimit: rateLimit)
            do {
                let outcomes = try await pool.withCommittedWrite(
                    operation: "creating activities", statement: ActivityStatements.CreateActivities.name
                ) {
                    connection -> [ActivityCreation]? in
                    var outcomes = [ActivityCreation](repeating: .authorNotFound, count: group.count)
                    do {
                        for try await (position, outcome) in try await connection.execute(statement, logger: logger) {
                            guard (1...group.count).contains(position) else {
                                throw MalformedRow(statement: ActivityStatements.CreateActivities.name)
                            }
                            outcomes[position - 1] =
                                switch outcome {
                                case .created(let created): .created(created)
                                case .rateLimited(let seconds): .rateLimited(retryAfterSeconds: Int(seconds))
                                }
                        }
                    } catch {
                        // Rolled back here, not by the COMMIT that follows (which then has no transaction to end):
                        // a row that failed to decode leaves the statement's writes in place until then.
                        logger.debug("A group of posts failed; each is tried alone", metadata: ["error.type": "\(type(of: error))"])
                        try await connection.query("ROLLBACK", logger: logger).drain()
                        return nil
                    }
                    return outcomes
                }
                if let outcomes { return outcomes.map { Result.success($0) } }
            } catch {
                return group.map { _ in .failure(error) }
            }
        }
        return await withTaskGroup(of: (Int, Result<ActivityCreation, any Error>).self) { tasks in
            var outcomes = [Result<ActivityCreation, any Error>](repeating: .success(.authorNotFound), count: group.count)
            for (index, post) in group.enumerated() {
                if index >= concurrentRetries, let (done, outcome) = await tasks.next() { outcomes[done] = outcome }
                tasks.addTask { (index, await ServiceContext.$current.withValue(post.context) { await alone(post, pool: pool, logger: logger) }) }
            }
            for await (index, outcome) in tasks { outcomes[index] = outcome }
            return outcomes
        }
    }

    /// `post` in a transaction of its own.
    private static func alone(_ post: PendingPost, pool: DatabasePool, logger: Logger) async -> Result<ActivityCreation, any Error> {
        do {
            return .success(try await insert(post.activity, idempotencyKey: nil, rateLimit: post.rateLimit, pool: pool, logger: logger))
        } catch {
            return .failure(error)
        }
    }

    private static func insert(
        _ activity: NewActivity, idempotencyKey key: String?, rateLimit: PostRateLimit?, pool: DatabasePool, logger: Logger
    ) async throws -> ActivityCreation {
        try await pool.withCommittedWrite(operation: "creating an activity", statement: ActivityStatements.CreateActivity.name) {
            connection in
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

extension Author {
    /// Who the author is, as one string (two posts with the same key never share a group).
    fileprivate var key: String {
        switch self {
        case .handle(let handle): "h" + handle
        case .cognitoSub(let sub): "s" + sub
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
