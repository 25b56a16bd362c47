import Logging
import PostgresNIO

/// The mark that a database is production, kept in the database itself (`cruddur_metadata`, as Rails keeps
/// `ar_internal_metadata`), so destructive commands recognise it however it was reached: `--prod`, `--url` or a
/// `CONNECTION_URL` that happens to point at it.
public struct ProductionMarker: Sendable {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Marks the database `connection` is on as production (`setup --prod`, `migrate --prod`).
    public func mark(on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS public.cruddur_metadata (
              key text PRIMARY KEY,
              value text NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger
        ).drain()
        try await connection.query(
            """
            INSERT INTO public.cruddur_metadata (key, value) VALUES ('environment', 'production')
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
            """, logger: logger
        ).drain()
    }

    /// Whether the target's database is marked production; false when it does not exist or has no mark.
    public func isMarked(_ target: ConnectionSettings) async throws -> Bool {
        do {
            return try await Database.withConnection(target, logger: logger, operation: "reading the production mark") { [logger] connection in
                let table = try await connection.query("SELECT to_regclass('public.cruddur_metadata') IS NOT NULL", logger: logger).collect()
                guard try table.first?.decode(Bool.self) == true else { return false }
                let rows = try await connection.query(
                    "SELECT EXISTS (SELECT 1 FROM public.cruddur_metadata WHERE key = 'environment' AND value = 'production')", logger: logger
                ).collect()
                return try rows.first?.decode(Bool.self) ?? false
            }
        } catch let error as DatabaseError where error.sqlState == "3D000" {
            return false // no such database: nothing to protect
        }
    }
}
