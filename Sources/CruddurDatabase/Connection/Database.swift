import Logging
import PostgresNIO

/// Single connections from ``ConnectionSettings`` (a long-running process uses a ``DatabasePool``).
public enum Database {
    /// The deadline for one query, including waiting for a pooled connection.
    public static let defaultQueryDeadline: Duration = .seconds(5)

    /// Opens one connection, runs `body` with it and closes it; connection errors surface at once.
    public static func withConnection<Result: Sendable>(
        _ settings: ConnectionSettings,
        logger: Logger,
        operation: String,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try settings.connectionConfiguration()
        } catch {
            throw DatabaseError.unavailable(operation: operation, reason: String(describing: error))
        }
        let connection = try await withDeadline(settings.connectTimeout + .seconds(1), operation: "connecting to \(settings)") {
            try await PostgresConnection.connect(
                configuration: try await settings.withCurrentPassword(configuration, operation: operation), id: 1, logger: logger)
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw DatabaseError.translate(error, operation: operation)
        }
    }
}
