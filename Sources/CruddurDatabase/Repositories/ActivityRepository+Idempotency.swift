import CruddurDomain

extension ActivityRepository {
    /// Deletes up to `batchSize` idempotency keys older than 24 hours; returns how many went.
    public func purgeStaleIdempotencyKeys(batchSize: Int) async throws -> Int {
        try await pool.withConnection(operation: "purging idempotency keys", statement: IdempotencyStatements.PurgeStale.name) {
            [logger] connection in
            var deleted = 0
            for try await count in try await connection.execute(IdempotencyStatements.PurgeStale(limit: Int64(batchSize)), logger: logger) {
                deleted = Int(count)
            }
            return deleted
        }
    }
}
