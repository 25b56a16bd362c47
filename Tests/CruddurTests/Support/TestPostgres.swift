import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Logging
import PostgresNIO

/// The test run's throwaway PostgreSQL cluster (started once, by the project's own cluster manager),
/// and a fresh database for each suite that asks.
actor TestPostgres {
    static let shared = TestPostgres()

    static let logger: Logger = {
        var logger = Logger(label: "cruddur-tests")
        logger.logLevel = .warning
        return logger
    }()

    private var starting: Task<(LocalClusterLease, String), any Error>?

    /// A new migrated database (seeded when asked) on the shared cluster. `flushedCommits: false` sets its
    /// `synchronous_commit` off: for suites whose subject is not durability but which commit a lot, so that they
    /// neither wait on this machine's slow fsync nor starve the commit-bound suites sharing the cluster.
    func makeDatabase(seeded: Bool = false, flushedCommits: Bool = true) async throws -> ConnectionSettings {
        let (lease, template) = try await start()
        let name = "t_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        let admin = lease.cluster.connectionSettings(database: "postgres")
        try await Self.retryingWhileTemplateBusy(admin: admin, template: template) {
            try await Database.withConnection(admin, logger: Self.logger, operation: "creating a test database") { connection in
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(name)) TEMPLATE \(quoteIdentifier(template))"),
                    logger: Self.logger
                ).collect()
                if !flushedCommits {
                    try await connection.query(
                        PostgresQuery(unsafeSQL: "ALTER DATABASE \(quoteIdentifier(name)) SET synchronous_commit = off"), logger: Self.logger
                    ).collect()
                }
                return
            }
        }
        let settings = lease.cluster.connectionSettings(database: name)
        if seeded {
            try await Database.withConnection(settings, logger: Self.logger, operation: "seeding") { connection in
                try await SeedData.load(on: connection, logger: Self.logger)
            }
        }
        return settings
    }

    /// Retries `body` while PostgreSQL says the template is in use (SQLSTATE 55006). The template takes no new
    /// connections, so whatever is still in it is left over (the backend that migrated it, on a loaded machine): it is
    /// reported and ended.
    private static func retryingWhileTemplateBusy(
        admin: ConnectionSettings, template: String, _ body: () async throws -> Void
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await body()
            } catch let error as DatabaseError where error.sqlState == "55006" && ContinuousClock.now < deadline {
                try await endSessions(in: template, admin: admin)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private static func endSessions(in template: String, admin: ConnectionSettings) async throws {
        let sessions = try await Database.withConnection(admin, logger: logger, operation: "ending sessions in the template") { connection in
            let rows = try await connection.query(
                """
                SELECT pid, backend_type, coalesce(application_name, ''), coalesce(state, ''), left(coalesce(query, ''), 80),
                       extract(epoch FROM now() - backend_start)::float8, pg_terminate_backend(pid)
                FROM pg_stat_activity WHERE datname = \(template) AND pid <> pg_backend_pid()
                """, logger: logger
            ).collect()
            return try rows.map { row in
                let (pid, type, application, state, query, age, ended) = try row.decode((Int32, String, String, String, String, Double, Bool).self)
                return "pid \(pid) \(type) '\(application)' \(state) for \(Int(age)) s, ended: \(ended), query: \(query)"
            }
        }
        if !sessions.isEmpty {
            logger.warning("Sessions left in the test template", metadata: ["sessions": "\(sessions)"])
        }
    }

    /// An empty database (no migrations), for the migration and CLI tests.
    func makeEmptyDatabase() async throws -> ConnectionSettings {
        let (lease, _) = try await start()
        let name = "e_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        _ = try await lease.createDatabaseIfMissing(name, logger: Self.logger)
        return lease.cluster.connectionSettings(database: name)
    }

    /// The cluster itself.
    func cluster() async throws -> LocalCluster {
        try await start().0.cluster
    }

    /// Starts the cluster once, however many suites ask at the same time.
    private func start() async throws -> (LocalClusterLease, String) {
        if let starting { return try await starting.value }
        let task = Task { try await Self.startCluster() }
        starting = task
        return try await task.value
    }

    private static func startCluster() async throws -> (LocalClusterLease, String) {
        let cluster = try await LocalCluster.temporary(label: "tests")
        let lease = try await cluster.acquire(logger: logger)
        let template = "cruddur_template"
        _ = try await lease.createDatabaseIfMissing(template, logger: logger)
        try await Database.withConnection(
            cluster.connectionSettings(database: template), logger: logger, operation: "migrating the template"
        ) { connection in
            try await MigrationRunner(logger: logger).migrate(on: connection)
        }
        // Like template0: nobody (autovacuum included) connects to it again, so copying it never finds it busy.
        try await Database.withConnection(
            cluster.connectionSettings(database: "postgres"), logger: logger, operation: "closing the template"
        ) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER DATABASE \(quoteIdentifier(template)) WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
                logger: logger
            ).collect()
            return
        }
        return (lease, template)
    }
}

/// Runs SQL on a test database with a single connection.
func withTestConnection<Result: Sendable>(
    _ settings: ConnectionSettings,
    _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
) async throws -> Result {
    try await Database.withConnection(settings, logger: TestPostgres.logger, operation: "test query", body)
}

/// `SELECT count(*) FROM activities`.
func activityCount(_ settings: ConnectionSettings) async throws -> Int {
    try await withTestConnection(settings) { connection in
        let rows = try await connection.query("SELECT count(*)::int8 FROM public.activities", logger: TestPostgres.logger).collect()
        return Int(try rows[0].decode(Int64.self))
    }
}

/// A throwaway cluster of its own listening on 127.0.0.1 with a superuser password, for programs that reach
/// PostgreSQL over TCP by host name (the Lambda's bootstrap, the container image): its `cruddur` database migrated
/// (and seeded when asked), with the application role `cruddur_app` and its password.
struct TCPPasswordDatabase {
    let lease: LocalClusterLease
    let port: Int
    let appPassword: String
    /// The superuser's settings, for checking what was stored.
    let admin: ConnectionSettings

    /// `CONNECTION_URL` for the application role, by the host name `localhost`.
    var appURL: String { "postgresql://cruddur_app:\(appPassword)@localhost:\(port)/cruddur" }

    static func start(label: String, seeded: Bool = false) async throws -> TCPPasswordDatabase {
        let port = try freePort()
        let cluster = try await LocalCluster.temporary(label: label, superuserPassword: "su-\(UUID().uuidString)", tcpPort: port)
        let lease = try await cluster.acquire(logger: TestPostgres.logger)
        _ = try await lease.createDatabaseIfMissing("cruddur", logger: TestPostgres.logger)
        let admin = cluster.connectionSettings(database: "cruddur")
        let appPassword = "app-\(UUID().uuidString)"
        try await withTestConnection(admin) { connection in
            try await MigrationRunner(logger: TestPostgres.logger).migrate(on: connection)
            if seeded { try await SeedData.load(on: connection, logger: TestPostgres.logger) }
            try await DatabaseAdministration(logger: TestPostgres.logger)
                .ensureApplicationRole("cruddur_app", password: appPassword, database: "cruddur", on: connection)
        }
        return TCPPasswordDatabase(lease: lease, port: port, appPassword: appPassword, admin: admin)
    }

    /// Lets the cluster stop (on a failure before this, the reaper stops it when the test process exits).
    func release() async {
        await lease.release(logger: TestPostgres.logger)
    }
}
