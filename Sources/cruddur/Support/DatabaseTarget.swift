import CruddurAWS
import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Logging
import PostgresNIO

/// Where a command's database is. Every command resolves it here: `--url`, else `--prod` (`PROD_CONNECTION_URL`),
/// else `CONNECTION_URL`, else the project's private local cluster (except in the container image, which sets
/// `CRUDDUR_CONTAINER` and has no PostgreSQL). `DB_AUTH=iam` applies to a URL without a password.
enum DatabaseTarget {
    case url(ConnectionSettings, source: String, isProduction: Bool)
    case localCluster

    static func resolve(
        url: String? = nil, production: Bool = false, applicationName: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> DatabaseTarget {
        func parse(_ url: String, source: String, isProduction: Bool) throws -> DatabaseTarget {
            do {
                var settings = try DatabaseAuthentication.settings(url: url, source: source, environment: environment)
                if let applicationName { settings = settings.with(applicationName: applicationName) }
                return .url(settings, source: source, isProduction: isProduction)
            } catch let error as DatabaseAuthenticationError {
                throw CommandFailure(error.description)
            } catch {
                throw CommandFailure("\(source): \(error)")
            }
        }
        if let url {
            return try parse(url, source: "--url", isProduction: false)
        }
        if production {
            guard let url = environment["PROD_CONNECTION_URL"], !url.isEmpty else {
                throw CommandFailure("--prod needs PROD_CONNECTION_URL to be set (see `cruddur rds url`)")
            }
            return try parse(url, source: "PROD_CONNECTION_URL", isProduction: true)
        }
        if let url = environment["CONNECTION_URL"], !url.isEmpty {
            return try parse(url, source: "CONNECTION_URL", isProduction: false)
        }
        if let container = environment["CRUDDUR_CONTAINER"], !container.isEmpty, container != "0" {
            throw CommandFailure(
                "a container needs CONNECTION_URL: there is no PostgreSQL inside it (e.g. -e CONNECTION_URL=postgresql://user:password@host:5432/cruddur)"
            )
        }
        return .localCluster
    }
}

/// A target opened for the length of one command; closing it releases the local cluster's lease (the server stops
/// when no other `cruddur` process uses it).
struct OpenedTarget {
    let settings: ConnectionSettings
    let isProduction: Bool
    let lease: LocalClusterLease?
    /// True when opening created the local `cruddur` database (and so seeded it).
    let wasCreated: Bool

    /// Opens `target`. For the local cluster the server is started; with `preparing` (serve, lambda invoke) the
    /// `cruddur` database is also created, migrated and, when new, seeded; without it (the `db` commands, which do
    /// that themselves) starting the server is announced on stderr.
    static func open(_ target: DatabaseTarget, preparing: Bool, logger: Logger) async throws -> OpenedTarget {
        switch target {
        case .url(let settings, _, let isProduction):
            return OpenedTarget(settings: settings, isProduction: isProduction, lease: nil, wasCreated: false)
        case .localCluster:
            break
        }
        let cluster = try await LocalCluster.forProject()
        let wasRunning = try await cluster.isRunning()
        let lease = try await cluster.acquire(logger: logger)
        let settings = cluster.connectionSettings(database: "cruddur")
        guard preparing else {
            if !wasRunning {
                writeToStandardError(
                    "cruddur: started the local PostgreSQL cluster (\(cluster.layout.dataDirectory)); it stops when this command ends\n")
            }
            return OpenedTarget(settings: settings, isProduction: false, lease: lease, wasCreated: false)
        }
        do {
            let created = try await lease.createDatabaseIfMissing("cruddur", logger: logger)
            try await Database.withConnection(settings, logger: logger, operation: "preparing the local database") { connection in
                try await MigrationRunner(logger: logger).migrate(on: connection)
                if created {
                    try await SeedData.load(on: connection, logger: logger)
                }
            }
            return OpenedTarget(settings: settings, isProduction: false, lease: lease, wasCreated: created)
        } catch {
            await lease.release(logger: logger)
            throw error
        }
    }

    func close(logger: Logger) async {
        await lease?.release(logger: logger)
    }

    /// Runs `body` with the target opened, and closes it afterwards, whether `body` succeeds or throws.
    static func with<Result>(
        _ target: DatabaseTarget, preparing: Bool, logger: Logger, _ body: (OpenedTarget) async throws -> Result
    ) async throws -> Result {
        let opened = try await open(target, preparing: preparing, logger: logger)
        let result: Result
        do {
            result = try await body(opened)
        } catch {
            await opened.close(logger: logger)
            throw error
        }
        await opened.close(logger: logger)
        return result
    }

    /// Runs `body` on one connection to the target's database.
    func withConnection<Result: Sendable>(
        logger: Logger, operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await Database.withConnection(settings, logger: logger, operation: operation, body)
    }
}
