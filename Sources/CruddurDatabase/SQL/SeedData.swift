import Logging
import PostgresNIO

/// The seed's `seed.sql` rows, loaded by `db seed`/`db setup` and into the local cluster; never by a migration.
///
/// Idempotent: users are keyed by handle and the seed activity by a fixed uuid, so loading twice adds nothing.
public enum SeedData {
    static let statements = [
        """
        INSERT INTO public.users (display_name, handle, email, cognito_user_id)
        VALUES
          ('Jess BK', 'jess-bk', 'jessbk@hotmail.com', 'MOCK-jess-bk'),
          ('Andrew Bayko', 'bayko', 'test@test.com', 'MOCK-bayko')
        ON CONFLICT (handle) DO NOTHING
        """,
        """
        INSERT INTO public.activities (uuid, user_uuid, message, expires_at)
        SELECT '0b5e5d1c-5eed-4c0d-a7a1-000000000001', uuid, 'This was imported as seed data!', now() + interval '10 days'
        FROM public.users WHERE handle = 'jess-bk'
        ON CONFLICT (uuid) DO NOTHING
        """,
    ]

    /// Loads the seed rows in one transaction.
    public static func load(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).drain()
            }
        }
    }
}
