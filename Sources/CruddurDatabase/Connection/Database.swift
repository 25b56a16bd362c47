import Logging
import PostgresNIO

/// Makes pools and single connections from ``ConnectionSettings``.
public enum Database {
    /// The deadline for one query, including waiting for a pooled connection.
    public static let defaultQueryDeadline: Duration = .seconds(5)

    /// A connection pool; run it (e.g. in a `ServiceGroup`) before querying.
    public static func makeClient(
        settings: ConnectionSettings, maximumConnections: Int = 8, fixedSize: Bool = false, logger: Logger
    ) throws -> PostgresClient {
        var configuration = try settings.clientConfiguration()
        configuration.options.maximumConnections = maximumConnections
        if fixedSize {
            // For the busy server: PostgresNIO 1.33 schedules an idle and a keep-alive timer task at every
            // release of a connection above the minimum, and each lives out its full duration (60 s / 30 s)
            // even when the connection is reused at once, so memory grew ~1 KB per query under load (see
            // docs/performance.md). A fixed-size pool without keep-alive pings schedules none; a dropped
            // connection is still noticed, on its next use, and replaced.
            configuration.options.minimumConnections = maximumConnections
            configuration.options.keepAliveBehavior = nil
        } else {
            configuration.options.minimumConnections = 0
        }
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

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
            try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
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
