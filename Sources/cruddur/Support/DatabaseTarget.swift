import CruddurDatabase
import CruddurLocalPostgres
import Foundation
import Logging

/// Where a command's database is: a URL from the environment, or the project's local cluster.
enum DatabaseTarget {
    case url(ConnectionSettings, source: String)
    case localCluster

    /// `CONNECTION_URL` when set, else the local cluster.
    static func development(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseTarget {
        guard let url = environment["CONNECTION_URL"], !url.isEmpty else { return .localCluster }
        do {
            return .url(try ConnectionSettings(url: url, environment: environment), source: "CONNECTION_URL")
        } catch {
            throw CommandFailure("CONNECTION_URL: \(error)")
        }
    }
}

/// A running database for the length of a command: releases the local cluster lease when done.
struct OpenedDatabase {
    let settings: ConnectionSettings
    let lease: LocalClusterLease?
    /// True when the command had to create the database (and so seeded it).
    let wasCreated: Bool

    /// Opens the target: for the local cluster, starts it, creates the `cruddur` database, migrates and seeds it.
    static func open(_ target: DatabaseTarget, logger: Logger) async throws -> OpenedDatabase {
        switch target {
        case .url(let settings, _):
            return OpenedDatabase(settings: settings, lease: nil, wasCreated: false)
        case .localCluster:
            let cluster = try LocalCluster.forProject()
            let lease = try cluster.acquire(logger: logger)
            do {
                let created = try await lease.createDatabaseIfMissing("cruddur", logger: logger)
                let settings = cluster.connectionSettings(database: "cruddur")
                try await Database.withConnection(settings, logger: logger, operation: "preparing the local database") { connection in
                    try await MigrationRunner(logger: logger).migrate(on: connection)
                    if created {
                        try await SeedData.load(on: connection, logger: logger)
                    }
                }
                return OpenedDatabase(settings: settings, lease: lease, wasCreated: created)
            } catch {
                lease.release(logger: logger)
                throw error
            }
        }
    }

    func close(logger: Logger) {
        lease?.release(logger: logger)
    }
}

/// A failure with a ready-made one-line message.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
