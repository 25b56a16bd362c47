import ArgumentParser
import CruddurDatabase
import Logging

/// `cruddur db setup` (seed: `bin/db-setup`): create + migrate + seed.
struct DBSetup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Create the database if missing, migrate it, and load the seed data (not on --prod)."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var appRole: AppRoleOptions

    func run() async throws {
        try await target.withOpened { opened, logger in
            try await Self.setUp(opened, appRole: appRole, logger: logger)
        }
    }

    /// Shared with `reset`.
    static func setUp(_ opened: OpenedTarget, appRole: AppRoleOptions, logger: Logger) async throws {
        let administration = DatabaseAdministration(logger: logger)
        let database = opened.settings.database
        if try await administration.exists(opened.settings) {
            print("Database \(database) exists")
        } else {
            try await administration.create(opened.settings)
            print("Created database \(database)")
        }
        let seed = !opened.isProduction
        let applied = try await opened.withConnection(logger: logger, operation: "setting up") { connection in
            let applied = try await MigrationRunner(logger: logger).migrate(on: connection)
            if seed {
                try await SeedData.load(on: connection, logger: logger)
            }
            try await appRole.apply(on: connection, database: database, logger: logger)
            if opened.isProduction {
                try await ProductionMarker(logger: logger).mark(on: connection)
            }
            return applied
        }
        print("Applied \(applied.count) migration(s)")
        print(seed ? "Seed data loaded" : "Seed data not loaded: production gets no mock users")
    }
}
