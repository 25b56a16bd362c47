import Logging
import PostgresNIO

/// Applies and reverts ``Migration``s on one connection, recording them in `schema_migrations`.
///
/// Every step takes a transaction-scoped advisory lock, so two processes migrating at once
/// (two `cruddur serve`, or `serve` and `db migrate`) apply each migration exactly once.
public struct MigrationRunner: Sendable {
    /// A migration and whether it has been applied.
    public struct Status: Sendable, Equatable {
        public let migration: Migration
        public let isApplied: Bool
    }

    /// The key of the advisory lock that serialises schema changes.
    static let lockKey: Int64 = 0x6372_7564_6475_72

    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration] = Migration.all, logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Every known migration with its state, oldest first.
    public func status(on connection: PostgresConnection) async throws -> [Status] {
        let applied = try await appliedVersions(on: connection)
        return migrations.map { Status(migration: $0, isApplied: applied.contains($0.version)) }
    }

    /// The migrations not applied yet.
    public func pending(on connection: PostgresConnection) async throws -> [Migration] {
        try await status(on: connection).filter { !$0.isApplied }.map(\.migration)
    }

    /// Applies every pending migration, each in its own transaction; returns those it applied.
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [Migration] {
        try await ensureTable(on: connection)
        var applied: [Migration] = []
        for migration in migrations {
            let didApply = try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger).drain()
                let rows = try await connection.query(
                    "SELECT 1 FROM public.schema_migrations WHERE version = \(migration.version)", logger: logger
                ).collect()
                guard rows.isEmpty else { return false }
                for statement in migration.up {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).drain()
                }
                try await connection.query(
                    "INSERT INTO public.schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger
                ).drain()
                return true
            }
            if didApply {
                logger.info("Applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration)
            }
        }
        return applied
    }

    /// Reverts the last `steps` applied migrations, newest first; returns those it reverted.
    @discardableResult
    public func rollback(steps: Int, on connection: PostgresConnection) async throws -> [Migration] {
        try await ensureTable(on: connection)
        var reverted: [Migration] = []
        for _ in 0..<steps {
            let migration: Migration? = try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger).drain()
                let rows = try await connection.query(
                    "SELECT version FROM public.schema_migrations ORDER BY version DESC LIMIT 1", logger: logger
                ).collect()
                guard let row = rows.first else { return nil }
                let version = try row.decode(Int.self)
                guard let migration = migrations.first(where: { $0.version == version }) else {
                    throw MigrationError.unknownAppliedVersion(version)
                }
                for statement in migration.down {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).drain()
                }
                try await connection.query(
                    "DELETE FROM public.schema_migrations WHERE version = \(version)", logger: logger
                ).drain()
                return migration
            }
            guard let migration else { break }
            logger.info("Reverted migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            reverted.append(migration)
        }
        return reverted
    }

    /// Reverts every applied migration with its `down` steps, newest first, then drops `schema_migrations`: the
    /// database holds none of Cruddur's schema afterwards (`db schema-load --force`).
    @discardableResult
    public func revertAll(on connection: PostgresConnection) async throws -> [Migration] {
        let reverted = try await rollback(steps: Int.max, on: connection)
        try await connection.query("DROP TABLE IF EXISTS public.schema_migrations", logger: logger).drain()
        return reverted
    }

    private func appliedVersions(on connection: PostgresConnection) async throws -> Set<Int> {
        let exists = try await connection.query(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL", logger: logger
        ).collect()
        guard try exists.first?.decode(Bool.self) == true else { return [] }
        var versions = Set<Int>()
        for try await version in try await connection.query(
            "SELECT version FROM public.schema_migrations", logger: logger
        ).decode(Int.self) {
            versions.insert(version)
        }
        return versions
    }

    private func ensureTable(on connection: PostgresConnection) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger).drain()
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS public.schema_migrations (
                  version bigint PRIMARY KEY,
                  name text NOT NULL,
                  applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            ).drain()
        }
    }
}

/// A schema state the runner cannot work with.
public enum MigrationError: CruddurError {
    case unknownAppliedVersion(Int)
    case pendingMigrations([Migration])

    public var description: String {
        switch self {
        case .unknownAppliedVersion(let version):
            "the database has migration \(version) applied, which this version of cruddur does not know; upgrade cruddur"
        case .pendingMigrations(let pending):
            "the database has \(pending.count) pending migration(s) (\(pending.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))); run `cruddur db migrate` or start with --migrate"
        }
    }
}
