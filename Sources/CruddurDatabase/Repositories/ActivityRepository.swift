import CruddurDomain
import Logging
import PostgresNIO

/// Reads and writes activities. Every call has a deadline, so an unreachable database is an error in time.
public struct ActivityRepository: Sendable {
    let pool: DatabasePool
    let logger: Logger

    public init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// One page of the home feed, newest first, live activities only.
    public func homeFeed(_ request: FeedRequest) async throws -> [FeedActivity] {
        try await pool.withConnection(operation: "reading the home feed") { [logger] connection in
            var page: [FeedActivity] = []
            page.reserveCapacity(request.limit)
            if let cursor = request.cursor {
                let statement = ActivityStatements.HomeFeedAfterCursor(
                    createdAt: cursor.createdAt.iso8601, uuid: cursor.uuid, limit: Int64(request.limit)
                )
                for try await row in try await connection.execute(statement, logger: logger) {
                    page.append(ActivityStatements.feedActivity(row))
                }
            } else {
                let statement = ActivityStatements.HomeFeedFirstPage(limit: Int64(request.limit))
                for try await row in try await connection.execute(statement, logger: logger) {
                    page.append(ActivityStatements.feedActivity(row))
                }
            }
            return page
        }
    }

    /// Creates an activity; nil when no user has the handle.
    public func create(_ activity: NewActivity) async throws -> CreatedActivity? {
        try await pool.withCommittedWrite(operation: "creating an activity") { [logger] connection in
            let statement = ActivityStatements.CreateByHandle(
                handle: activity.userHandle, message: activity.message, ttlSeconds: Int64(activity.ttl.seconds)
            )
            for try await row in try await connection.execute(statement, logger: logger) {
                return ActivityStatements.createdActivity(row)
            }
            return nil
        }
    }

    /// Deletes up to `batchSize` expired activities; returns how many went.
    public func purgeExpired(batchSize: Int) async throws -> Int {
        try await pool.withConnection(operation: "purging expired activities") { [logger] connection in
            var deleted = 0
            for try await count in try await connection.execute(ActivityStatements.PurgeExpired(limit: Int64(batchSize)), logger: logger) {
                deleted = Int(count)
            }
            return deleted
        }
    }
}

/// Reads users.
public struct UserRepository: Sendable {
    let pool: DatabasePool
    let logger: Logger

    public init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Whether some user has this handle.
    public func handleExists(_ handle: String) async throws -> Bool {
        try await pool.withConnection(operation: "looking up a user") { [logger] connection in
            for try await exists in try await connection.execute(UserStatements.HandleExists(handle: handle), logger: logger) {
                return exists
            }
            return false
        }
    }

    /// Answers when the database does (`SELECT 1`).
    public func ping() async throws {
        try await pool.withConnection(operation: "checking the database") { [logger] connection in
            try await connection.query("SELECT 1", logger: logger).drain()
        }
    }
}
