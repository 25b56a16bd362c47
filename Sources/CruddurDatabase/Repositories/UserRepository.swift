import CruddurDomain
import Logging
import PostgresNIO

/// Reads users.
public struct UserRepository: Sendable {
    let pool: DatabasePool
    let logger: Logger

    public init(pool: DatabasePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Whether the author (a handle, or a Cognito sub linked to a user) exists.
    public func exists(_ author: Author) async throws -> Bool {
        try await pool.withConnection(operation: "looking up a user", statement: UserStatements.AuthorExists.name) { [logger] connection in
            for try await exists in try await connection.execute(UserStatements.AuthorExists(author: author), logger: logger) {
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
