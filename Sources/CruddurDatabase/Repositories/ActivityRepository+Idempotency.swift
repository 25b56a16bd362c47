import CruddurDomain
import PostgresNIO

/// What became of a post that carried an `Idempotency-Key`.
public enum IdempotentCreation: Sendable, Equatable {
    /// The first request with this key: the activity was created.
    case created(CreatedActivity)
    /// A retry with the same body: the first request's activity, nothing written.
    case replayed(CreatedActivity)
    /// The author used this key for a different message or TTL within 24 hours; nothing written.
    case keyReused
    /// No user has the handle; nothing written.
    case authorNotFound
}

extension ActivityRepository {
    /// Creates an activity at most once per author and key within 24 hours.
    ///
    /// A retry that arrives while the first request is still in flight waits for it (on the key's unique
    /// index) and then gets its result: there is never a second row.
    public func create(_ activity: NewActivity, idempotencyKey key: String) async throws -> IdempotentCreation {
        try await pool.withCommittedWrite(operation: "creating an activity") { [logger] connection in
            for attempt in 0..<2 {
                let claim = IdempotencyStatements.ClaimAndCreate(
                    handle: activity.userHandle, message: activity.message, ttlSeconds: Int64(activity.ttl.seconds), key: key
                )
                for try await row in try await connection.execute(claim, logger: logger) {
                    return .created(ActivityStatements.createdActivity(row))
                }
                var recorded: IdempotencyStatements.Recorded.Row?
                for try await row in try await connection.execute(IdempotencyStatements.Recorded(handle: activity.userHandle, key: key), logger: logger) {
                    recorded = row
                }
                guard let recorded else { return .authorNotFound }
                if recorded.7 && attempt == 0 {
                    for try await _ in try await connection.execute(IdempotencyStatements.ForgetStale(handle: activity.userHandle, key: key), logger: logger) {}
                    continue
                }
                guard recorded.0 == activity.message, recorded.1 == Int64(activity.ttl.seconds) else { return .keyReused }
                return .replayed(CreatedActivity(
                    uuid: recorded.2, displayName: recorded.3, handle: recorded.4, message: recorded.0,
                    createdAt: Timestamp(microsecondsSinceEpoch: recorded.5), expiresAt: Timestamp(microsecondsSinceEpoch: recorded.6)
                ))
            }
            return .keyReused
        }
    }

    /// Deletes up to `batchSize` idempotency keys older than 24 hours; returns how many went.
    public func purgeStaleIdempotencyKeys(batchSize: Int) async throws -> Int {
        try await pool.withConnection(operation: "purging idempotency keys") { [logger] connection in
            var deleted = 0
            for try await count in try await connection.execute(IdempotencyStatements.PurgeStale(limit: Int64(batchSize)), logger: logger) {
                deleted = Int(count)
            }
            return deleted
        }
    }
}
