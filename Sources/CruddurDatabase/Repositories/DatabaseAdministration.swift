import Logging
import PostgresNIO

/// Whole-database operations for `cruddur db …`: create, drop, inspect, sessions, the application role.
///
/// Database and role names are identifiers PostgreSQL cannot bind; they are validated and quoted.
/// Everything else is bound.
public struct DatabaseAdministration: Sendable {
    /// A row of `pg_stat_activity`, as the seed's `db-sessions` shows it.
    public struct Session: Sendable, Equatable {
        public let processID: Int32
        public let user: String?
        public let database: String?
        public let clientAddress: String?
        public let application: String?
        public let state: String?
    }

    /// The database every PostgreSQL server has, for creating and dropping others.
    public static let maintenanceDatabase = "postgres"

    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Creates the target's database; fails when it exists.
    public func create(_ target: ConnectionSettings) async throws {
        let name = target.database
        try await onMaintenance(target, operation: "creating database \(name)") { connection, logger in
            guard try await !Self.exists(name, on: connection, logger: logger) else {
                throw AdministrationError.databaseExists(name)
            }
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(name))"), logger: logger).drain()
        }
    }

    /// Creates the target's database unless it exists; true when it created it (two processes may race: the loser
    /// sees `duplicate_database` and answers false).
    @discardableResult
    public func createIfMissing(_ target: ConnectionSettings) async throws -> Bool {
        let name = target.database
        return try await onMaintenance(target, operation: "creating database \(name)") { connection, logger in
            guard try await !Self.exists(name, on: connection, logger: logger) else { return false }
            do {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(name))"), logger: logger).drain()
                return true
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P04" {
                return false
            }
        }
    }

    /// Whether the target's database exists.
    public func exists(_ target: ConnectionSettings) async throws -> Bool {
        let name = target.database
        return try await onMaintenance(target, operation: "looking up database \(name)") { connection, logger in
            try await Self.exists(name, on: connection, logger: logger)
        }
    }

    /// Drops the target's database; fails when it does not exist or is in use.
    public func drop(_ target: ConnectionSettings) async throws {
        let name = target.database
        guard name != Self.maintenanceDatabase else { throw AdministrationError.refusingMaintenanceDatabase }
        try await onMaintenance(target, operation: "dropping database \(name)") { connection, logger in
            guard try await Self.exists(name, on: connection, logger: logger) else {
                throw AdministrationError.databaseMissing(name)
            }
            // WITH (FORCE) (PostgreSQL 13+) ends the database's other sessions instead of waiting 5 s and failing.
            var serverVersion = 0
            for try await version in try await connection.query("SELECT current_setting('server_version_num')::int", logger: logger).decode(Int.self)
            {
                serverVersion = version
            }
            let force = serverVersion >= 130_000 ? " WITH (FORCE)" : ""
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(quoteIdentifier(name))\(force)"), logger: logger).drain()
        }
    }

    /// The tables in the `public` schema.
    public func publicTables(on connection: PostgresConnection) async throws -> [String] {
        var tables: [String] = []
        for try await name in try await connection.query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", logger: logger
        ).decode(String.self) {
            tables.append(name)
        }
        return tables
    }

    /// Everyone connected to the server, from `pg_stat_activity`.
    public func sessions(on connection: PostgresConnection) async throws -> [Session] {
        var sessions: [Session] = []
        let rows = try await connection.query(
            """
            SELECT pid, usename::text, datname::text, host(client_addr), application_name, state
            FROM pg_stat_activity WHERE backend_type = 'client backend' ORDER BY pid
            """, logger: logger)
        for try await (pid, user, database, address, application, state) in rows.decode((Int32, String?, String?, String?, String?, String?).self) {
            sessions.append(Session(processID: pid, user: user, database: database, clientAddress: address, application: application, state: state))
        }
        return sessions
    }

    /// Creates (or updates) a login role that may read and write the app's tables but run no DDL.
    ///
    /// Refuses a name that is the connecting user, a superuser, or a role that owns anything in this database (the
    /// role is made least-privileged, which would strip such a role of what it needs). The password never reaches the
    /// server: it gets a SCRAM-SHA-256 verifier computed here (as `psql`'s `\password` does), bound as a parameter, so
    /// no statement log, parameter log or error context can show the password. `PUBLIC`'s `CREATE` on schema
    /// `public` (PostgreSQL 14 and older grant it) is revoked: the database is Cruddur's own.
    ///
    /// With `iam` the role signs in with IAM authentication tokens only: it has no password and is granted `rds_iam`
    /// (a role RDS provides; elsewhere this fails with ``AdministrationError/noRDSIAMRole``).
    public func ensureApplicationRole(
        _ role: String, password: String?, iam: Bool = false, database: String, on connection: PostgresConnection
    ) async throws {
        guard Self.isPlainIdentifier(role) else { throw AdministrationError.invalidRoleName(role) }
        var verifier = ""
        if !iam {
            guard let password, let made = SCRAMVerifier.make(password: password) else { throw AdministrationError.invalidRolePassword }
            verifier = made
        }
        try await connection.withTransaction(logger: logger) { [logger] connection in
            let rows = try await connection.query(
                """
                SELECT \(role)::text = current_user,
                       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = \(role)::text), false),
                       EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = \(role)::text AND (
                         EXISTS (SELECT 1 FROM pg_class WHERE relowner = r.oid)
                         OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspowner = r.oid)
                         OR EXISTS (SELECT 1 FROM pg_proc WHERE proowner = r.oid)
                         OR EXISTS (SELECT 1 FROM pg_type WHERE typowner = r.oid)
                         OR EXISTS (SELECT 1 FROM pg_database WHERE datdba = r.oid)))
                """, logger: logger
            ).collect()
            let (isConnectingUser, isSuperuser, ownsObjects) = try rows[0].decode((Bool, Bool, Bool).self)
            if isConnectingUser { throw AdministrationError.unsuitableRole(role, "it is the user this command connects as") }
            if isSuperuser { throw AdministrationError.unsuitableRole(role, "it is a superuser") }
            if ownsObjects { throw AdministrationError.unsuitableRole(role, "it owns objects (tables, schemas, functions, types or databases)") }
            try await connection.query(
                "SELECT set_config('cruddur.app_role', \(role), true), set_config('cruddur.app_verifier', \(verifier), true)", logger: logger
            ).drain()
            try await connection.query(
                """
                DO $$
                BEGIN
                  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_setting('cruddur.app_role')) THEN
                    EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L',
                                   current_setting('cruddur.app_role'), nullif(current_setting('cruddur.app_verifier'), ''));
                  ELSE
                    EXECUTE format('CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L',
                                   current_setting('cruddur.app_role'), nullif(current_setting('cruddur.app_verifier'), ''));
                  END IF;
                END
                $$
                """, logger: logger
            ).drain()
            let quotedRole = quoteIdentifier(role)
            for statement in [
                "GRANT CONNECT ON DATABASE \(quoteIdentifier(database)) TO \(quotedRole)",
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                "REVOKE CREATE ON SCHEMA public FROM \(quotedRole)",
                "GRANT USAGE ON SCHEMA public TO \(quotedRole)",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(quotedRole)",
                "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \(quotedRole)",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \(quotedRole)",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO \(quotedRole)",
            ] {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).drain()
            }
            if iam {
                guard try await !connection.query("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'", logger: logger).collect().isEmpty else {
                    throw AdministrationError.noRDSIAMRole
                }
                try await connection.query(PostgresQuery(unsafeSQL: "GRANT rds_iam TO \(quotedRole)"), logger: logger).drain()
            }
        }
    }

    /// `[a-z_][a-z0-9_]*`, at most 63 bytes: a name that needs no quoting and cannot surprise anyone.
    public static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63, first == UInt8(ascii: "_") || (97...122).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (97...122).contains($0) || (48...57).contains($0) }
    }

    private static func exists(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await !connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger).collect().isEmpty
    }

    private func onMaintenance<Result: Sendable>(
        _ target: ConnectionSettings, operation: String,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        let logger = self.logger
        return try await Database.withConnection(target.with(database: Self.maintenanceDatabase), logger: logger, operation: operation) {
            try await body($0, logger)
        }
    }
}

/// A database-level request that cannot be carried out.
public enum AdministrationError: CruddurError {
    case databaseExists(String)
    case databaseMissing(String)
    case refusingMaintenanceDatabase
    case invalidRoleName(String)
    case invalidRolePassword
    case unsuitableRole(String, String)
    case noRDSIAMRole

    public var description: String {
        switch self {
        case .databaseExists(let name): "database \(name) already exists"
        case .databaseMissing(let name): "database \(name) does not exist"
        case .refusingMaintenanceDatabase: "refusing to drop the server's maintenance database 'postgres'"
        case .invalidRoleName(let name): "role name '\(name)' must be lowercase letters, digits and underscores, starting with a letter or underscore"
        case .invalidRolePassword: "the application role's password must be printable ASCII (letters, digits, punctuation, spaces) and not empty"
        case .unsuitableRole(let name, let reason):
            "refusing to make '\(name)' the application role: \(reason); choose a new name such as cruddur_app"
        case .noRDSIAMRole: "--iam needs the rds_iam role, which only RDS has: this server is not an RDS instance"
        }
    }
}
