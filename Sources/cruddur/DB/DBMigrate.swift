import ArgumentParser
import CruddurDatabase

/// `cruddur db migrate`: applies pending migrations, each in its own transaction.
struct DBMigrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending migrations.")

    @OptionGroup var target: TargetOptions
    @OptionGroup var appRole: AppRoleOptions

    func run() async throws {
        try await target.withOpened { opened, logger in
            let appRole = self.appRole
            let database = opened.settings.database
            let applied = try await opened.withConnection(logger: logger, operation: "migrating") { connection in
                let applied = try await MigrationRunner(logger: logger).migrate(on: connection)
                try await appRole.apply(on: connection, database: database, logger: logger)
                if opened.isProduction {
                    try await ProductionMarker(logger: logger).mark(on: connection)
                }
                return applied
            }
            if applied.isEmpty {
                print("No pending migrations in \(database)")
            }
            for migration in applied {
                print("Applied \(migration.version)_\(migration.name)")
            }
        }
    }
}
